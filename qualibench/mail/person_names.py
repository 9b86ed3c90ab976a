"""Common French and English first names, to tell a person's sign-off from a brand's or a team's.

"Aurélie, service clients", "Owen Price", "Best, Amelia" sign as a person; "Robotik - Relation
clients", "Nimbus Bank", "Le Service Clients" sign as a company. Capitalisation cannot tell a
brand from a name, a list of first names can: a person signing a curt receipt and promise
("J'ai transmis votre dossier, on vous rappelle demain. Émilie") wrote a human reply. Folded
(lowercase, no accents). Given names are general knowledge, not wordings of any reply.
"""

from __future__ import annotations

_NAMES = """
adam adrien agathe alain albert alex alexandra alexandre alexis alfie ali alice aline alison amandine
amber amelia amelie amina amy anais andre andrea andrew angela angelique ann anna anne annie anthony
antoine archie arnaud arthur audrey aurelie aurelien axel baptiste barbara bastien beatrice ben
benjamin benoit bernard betty brenda brian bruno camille carl carol caroline carolyn catherine cecile
cedric celia celine chantal charles charlie charlotte chloe chris christian christine christophe
christopher claire clara claude clement colin corentin cynthia daisy damien dan dana daniel danielle
dave david deborah delphine denis denise diana diane didier dominique donna dylan ed edouard edward
elena eliane elisa elise elizabeth ella ellie elodie eloise emilie emily emma enzo eric estelle ethan
eva eve evelyn fabien fabrice fanny fatima florence florian francois francoise franck frank freya
frederic gabriel gael gary george georges gerard gilles grace greg guillaume hannah harry helen
helene henri henry herve holly hugo ian ines isabelle isabella isla jack jacob jacqueline jacques jade
james jamie jane janet jason jean jeanne jeff jennifer jeremy jerome jess jessica joan joe john jonathan
jordan joseph josh joshua joyce judith julia julian julie julien juliette jules justine karen karim
karine kate katie kayla kelly kevin kim kyle laura laure laurence laurent lea lea leila leo leon liam
lily linda lisa louis louise luc luca lucas lucie lucy ludovic lydia madison manon marc marcel margaux
margaret maria marie marine mark martin martine mary mathieu mathilde matt matthew matthias maxime
megan mehdi melanie melissa mia michael michel michele michelle mickael mike mo mohamed mohammed
monique morgane nadia nadine nancy nathalie nathan nicholas nick nicolas nicole noah noe noemie
oceane olivia olivier omar oscar owen pascal pascale patricia patrick paul pauline peter philippe
pierre poppy priya quentin rachel rachid raj raphael rebecca remi richard rob robert robin romain
rose ruby ruth ryan sabrina sacha sam samantha samir samuel sandra sandrine sara sarah scott
sebastien sharon simon simone sofia sofiane sophia sophie stephane stephanie stephen steve steven
sue susan sylvain sylvie tanguy theo theresa thierry thomas tim timothy tom tony tyler valentin
valerie vanessa victor victoria vincent virginie xavier yann yannick yasmine yves zach zara zoe
"""
FIRST_NAMES = frozenset(_NAMES.split())
