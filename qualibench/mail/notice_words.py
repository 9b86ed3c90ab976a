"""The words an automatic notice is made of, to tell a sentence about the case from one about the message.

An acknowledgement, an absence notice or a "not monitored" notice speaks only of the exchange
itself: the message and its receipt, who will handle it and when, the reference to keep, the
pages to read meanwhile, the courtesy around it. A sentence that answers speaks of the customer's
case: a parcel, a refund, a plan, a store, a fault. So a sentence is read word by word: its words
that are neither function words nor words of the exchange are the case's, and a sentence with
enough of them says something about the case, whatever template its acknowledgement came from.

Words are compared folded (lowercase, no accents) by their first five letters, so "répondre",
"réponse", "répondrons" and "respond"/"response" need one entry each side. This is vocabulary of
a semantic field (the exchange), not a list of template sentences: a new wording of a receipt
or of a promise is made of the same words.
"""

from __future__ import annotations

import re
from functools import lru_cache


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words, pronouns, auxiliaries, determiners, common adverbs (folded).
_FUNCTION = _wordset("""
le la les l un une des du de d au aux et ou mais donc car ni que qu qui quoi dont ce cet cette ces
se s c j n m t y en a ai as avons avez ont est es sommes etes sont sera seront serez serons etait
ete etre avoir peut peuvent pouvez pouvons pourra pourrez pourrons doit
il elle ils elles on nous vous je me te lui leur leurs mon ma mes ton ta tes son sa ses notre nos
votre vos ne pas plus jamais aucun aucune sans avec pour par sur sous dans chez vers entre contre
si tout tous toute toutes tres bien aussi deja encore ici la cela ceci ca celui celle ceux celles
meme autre autres chaque quelques afin ainsi alors puis lorsque quand comme dont
the a an and or but nor so of to in on at by for from with without into onto about as than then
is are was were be been being am will would shall should can could may might must do does did
done have has had having it its this that these those there here which who whom whose what when
where why how we you i he she they me him her them us our your my his their ours yours
not no any some all each every both either neither also too very just only even still yet now
if once while until up out over under again further more most other such own same s t ll re ve d
within through via come comes came need needs expect suis jusqu raison soit get
conformement compter next few coming prochains prochaines prochain prochaine serai right aim tu toi unable
laquelle lequel lesquels lesquelles auquel auxquels depuis since after before apres moins less
un deux trois quatre cinq six sept huit neuf dix douze quinze vingt trente quarante cinquante
one two three four five seven eight nine ten twelve fifteen twenty thirty forty fifty
""")

# The exchange's own vocabulary, by first five folded letters (or the whole word if shorter).
_EXCHANGE = _wordset("""
message messages demande demandes requete request requests enquiry inquiry query queries email mail
mails courriel courrier correspondance correspondence formulaire form forms submission soumission
ticket tickets dossier case cases tweet tweets note lettre letter sollicitation reclamation
complaint question questions information informations details coordonnees contact sujet objet
demarche saisies saisie recevoir recu recue recus recues reception recevons recevrez recevra receive
received receipt parvenir parvenu parvenue parviendra reach reached landed enregistrer enregistre
enregistree register registered logged noter noted notee prise pris compte! transmettre transmis
transmise forward forwarded passed transferer transfere confier confie allocated assigned queue
queued file attente await awaiting wait waiting traiter traitement traite traitee traitera
traiterons handle handled handling process! processed! processing! examiner examen examine examinee
review reviewed reviewing etudier etude etudiee analyser analyse lire lira lirons read regarder
regardons look looked looking occuper occupera suivi suivre follow track tracking avancement
progress status statut etat confirmer confirme confirmation confirm confirms confirmed accuser
accusons acknowledge acknowledgement seen vu ouvert ouverte opened open creer cree creee created
attribue attribuee numero number reference ref identifiant systeme repondre reponse reponses repond
repondra repondrons reply replies respond response responses answer answers revenir revenons
reviendra reviendrons recontacter recontactera contacter contactera getting back write writing
written ecrire hear nouvelles suite informer informe inform informed notify notified aviser tenir
touch rappeler retour! appeler appel call phone telephone hotline chat tchat joindre urgent urgence
urgente urgents equipe equipes team teams conseiller conseillere conseillers agent agents adviser
advisor advisers service services departement department specialist specialiste expert experts
membre member members collaborateur interlocuteur staff personne person someone quelqu quelqu'un
support crew care client clients clientele customer customers consommateur consommateurs relation
relations direction happiness delai delais jour jours heure heures hours hour days day business
working ouvres ouvrables ouvrable semaine semaines week weeks mois month months minute minutes
maximum environ average moyen moyenne actuel actuellement current currently bref brefs meilleurs
meilleur possible rapidement vite quickly quick soon shortly prochainement due course moment temps
time rapide fast faster sequence chronologique ordre turn tour volume volumes affluence activite
soutenue nombreuses nombreux nombre demand high busy patience patient comprehension understanding
horaires opening merci remercier remercions remercie thanks thank appreciate appreciated confiance
trust important importance attention attentif attentivement soin plaisir pleasure cher chere dear
madame monsieur cordialement regards cheers salutations sincere sincerement best wishes bonne
journee soiree bientot hello bonjour there greetings faithfully sincerely yours faq aide help centre
center hub knowledge base guides guide frequentes frequent courantes common site website web page
pages rubrique section espace personnel application! appli! app! portail portal online consulter
visit visiter rendez retrouver find trouver decouvrir check connect! connecter! login tip astuce
meantime attendant automatique automatic automated auto generated genere generee systeme system
robot automate envoye envoyee sent emis emise address adresse souhaiter souhaitons wish permettre
donner give apporter provide fournir inutile needless relancer chase nouveau new again desormais
maintenant now deja already egalement simplement simply safely bon good port mains hands engage
engageons commit ensure assurer! relevant appropriate concerne competent competente tenons tiendrons
tiendra tiendront tenu fera ferons feront suivra suivront got prendre prendra prendrons prendront humain human
acheminement
achemine acheminee routed dm dms mp inbox boite mailbox monitored unmonitored notified notifie alerted investigate investigation enquete instruire instruite
instruction fully allow mettre oeuvre everything everyone chacun chacune individuel
individual personnalisee personal personally real reelle let know savoir pick
ecrit ecrite ecrits lus lue lues joignable joignables reachable online efforcer efforcons
efforcent sav assistant assistante assistance helper chatting bientot instant instants
arrive arrivee arrived arrives comptez avant prive privee prives privees libere liberera relais virtuel
virtuelle gestionnaire gestionnaires connaissance verse! electronique picked available bear indique indiquee
objectif objectifs aim goal reads usually happens ask asks asked possession copy follow! selon constate
constatee mesure written weekdays incomplete flagged social times latest liste normally generally
retenu placed envoi reussi success successfully recapitulatif dediee dedie dedicated cote
""")


def _key(word: str) -> str:
    """An entry's key: its first five letters, or the word itself when it ends with "!" (exact: "retour!"
    is the reply to come, not "retourner l'article")."""
    return word[:-1] if word.endswith("!") else word[:5]


_EXCHANGE_KEYS = frozenset(_key(w) for w in _EXCHANGE)
_TOKEN = re.compile(r"[a-z]+")
# Addresses, links and handles name a place, not the case: "help@brand.example", "brand.example/help".
_PLACES = re.compile(r"\S+@\S+|https?://\S+|www\.\S+|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?:/\S*)?|@\w+")


_DOTTED = re.compile(r"\w\.[a-z]")
_IDENTIFIER = re.compile(r"\b[a-z]{1,5}-\d[\w-]*")


@lru_cache(maxsize=8192)  # a sentence is read by several rules; templates repeat across messages
def case_words(folded: str) -> tuple[str, ...]:
    """The words of a folded sentence that belong to neither the grammar nor the exchange."""
    if "@" in folded or "/" in folded or _DOTTED.search(folded):
        folded = _PLACES.sub(" ", folded)
    if "-" in folded:  # an identifier's letters are no words: "INC-0048812", "case #HM-300218"
        folded = _IDENTIFIER.sub(" ", folded)
    return tuple(w for w in _TOKEN.findall(folded)
                 if len(w) > 2 and w not in _FUNCTION and w[:5] not in _EXCHANGE_KEYS and w not in _EXCHANGE_KEYS)


# The exchange's verbs by what they do: replying or handling (a promise when nothing else is said),
# and receiving (a receipt).
_REPLY_KEYS = frozenset(map(_key, _wordset("""
repondre reponse reply replies respond response answer revenir revenons reviendra recontacter
hear retour! rappeler traiter traitement handle process! examiner review etudier etude analyser
lira lirons regarder occuper pick picked investigate instruire instruite dm dms mp examen tiendrons tiendra
ecrirons ecrira ecrivons follow!
""")))
_RECEIPT_KEYS = frozenset(map(_key, _wordset("""
recu recue recus recues reception recevons receive received receipt parvenu parvenue reached
landed enregistre enregistree registered logged noted notee prise pris transmis transmise
forwarded passed confirme confirmation confirms queued seen ouvert ouverte opened cree creee
created attribue assigned allocated accusons acknowledge arrivee arrived vu got notified notifie alerted acheminement
envoye envoyee submitted soumis soumise verse! possession made way sent
""")))


_IN_CONTACT = re.compile(r"\b(?:in|en|prendr\w*|take|keep) contact\b")


def exchange_roles(folded: str) -> frozenset[str]:
    """"replying" and/or "received" when a folded sentence's words of the exchange reply to or receive it."""
    tokens = _TOKEN.findall(folded)
    keys = {w[:5] for w in tokens}.union(tokens)
    if _IN_CONTACT.search(folded):  # "will be in contact", "prendra contact" (not "contact us")
        keys.add("repon")
    return frozenset(name for name, wanted in (("replying", _REPLY_KEYS), ("received", _RECEIPT_KEYS))
                     if not keys.isdisjoint(wanted))


# Dates name when someone is back, not a case: read apart from the case's words in absence notices.
CALENDAR = _wordset("""
janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre lundi mardi
mercredi jeudi vendredi samedi dimanche january february march april may june july august september
october november december monday tuesday wednesday thursday friday saturday sunday jan feb mar apr
jun jul aug sep sept oct nov dec inclus included inclusive aujourd hui demain matin soir apres midi
matinee today tomorrow tonight morning afternoon evening weekend noon
""")
