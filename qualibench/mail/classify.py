"""Say what kind of reply a message is: bounce, out-of-office, acknowledgement, redirect, answer.

Headers are strong signals but not proof: Zendesk and some other helpdesks stamp
`Auto-Submitted: auto-generated` on every notification, including an agent's real answer,
so a substantive text without acknowledgement wording is still classed as an answer.
Content decides with the headers: an acknowledgement sentence followed by a substantive one
("Nous avons bien reçu votre demande. Votre colis sera livré jeudi.") is an answer and stops the
clock; arrival time alone never makes a reply automatic (it only confirms a content-free e-mail);
"this mailbox is not monitored" / no-reply notices are automatic non-answers, never redirects.

An automatic notice is read by the role of its sentences, not by a list of its templates: each
sentence either plays a role of the exchange (receipt, promise of a reply, reference, automatic
notice, queue information, self-help pointer, courtesy) or says something about the case. What
tells them apart is vocabulary (mail.notice_words): a sentence whose words are all grammar or the
exchange's own (message, receive, reply, team, days, thanks, help centre...) says nothing about
the case, whatever its wording; one with words of its own (a parcel, a refund, a store) or an
amount does. Absences are read by role too (someone away or closed, plus a return or another
contact), and so are unread mailboxes (this address / account, negated, and reading or serving).
A receipt or promise signed by a person's first name (mail.person_names) is a curt human reply.

Inside a notice (a reference, a promise with a time, an automatic note -- in its text, its sign-off
block or a footer the reply splitter set aside -- queue or opening hours), what any customer is told
is part of the notice too: tips and reminders, self-service questions, help-link lists, menus, what to
do "if your order...". Once the request is known (`classify_text(..., request=)`; the collector calls
`with_request` after matching a reply to its probe), a sentence beside an acknowledgement answers only
if it touches the request: shares one of its own words or numbers, or states a specific of its own (an
amount, a yes/no, a day, an identifier, an apology for the trouble); one restating three of the
request's words speaks of the case whatever role it also plays. Without the request the reply alone is
read, as before.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from qualibench.kinds import ReplyKind
from qualibench.mail.language import detect_language
from qualibench.mail.notice_words import CALENDAR, case_words, exchange_roles
from qualibench.mail.parse import ParsedMessage
from qualibench.mail.person_names import FIRST_NAMES
from qualibench.mail.prefilter import kept_by_text, prefilter_namespace
from qualibench.mail.quotes import split_reply

# A person cannot read, think and type an answer this fast: with an e-mail that says nothing
# about the request, such a delay confirms an automatic reply. Never on its own.
INSTANT_REPLY = timedelta(seconds=90)


@dataclass
class Classification:
    """The kind of a reply and why, plus what the kind implies (redirect target, bounce facts)."""

    kind: ReplyKind
    reason: str
    redirect_to: str = ""
    ticket_ref: str = ""
    failed_recipients: list[str] = field(default_factory=list)
    bounce_diagnostic: str = ""
    language: str = ""
    notice: str = ""  # "not_monitored" for unmonitored-mailbox / no-reply notices (kind AUTO_ACK)
    acknowledged: bool = False  # an acknowledgement phrase was found (even inside an answer)


@kept_by_text  # speed only: a pure function of one text; templates recur across a collect
def _fold(text: str) -> str:
    """Lowercase, strip accents and fold typographic apostrophes/spaces, for wording checks."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'"))
    if not text.isascii():
        # Ligatures have no decomposition: "mettons tout en œuvre" is "oeuvre".
        text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
        # The accents are the few combining marks present: removed by str.replace (C speed)
        # instead of testing every character in Python.
        for mark in {ch for ch in set(text) if unicodedata.combining(ch)}:
            text = text.replace(mark, "")
    return _SPACES.sub(" ", text.casefold())


_SPACES = re.compile(r"\s+")


_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
# Anchored: "RE: Undelivered parcel" is a customer's subject, not a bounce.
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undeliver|returned mail|mail delivery (?:failed|failure|subsystem)"
    r"|delivery status notification \((?:failure|echec)|delivery failure|(?:message )?non remis"
    r"|non distribuable|echec de (?:la )?(?:remise|distribution)|failure notice|message not delivered"
    r"|remise impossible|notification d'etat de (?:la )?remise \(echec)",
)
# What mail systems write in a bounce, and agents do not.
_BOUNCE_BODY = re.compile(
    r"\b5\.\d{1,3}\.\d{1,3}\b|\b5[0-5]\d[ -]|permanent (?:error|failure)|mail delivery (?:software|system)"
    r"|delivery (?:has )?failed|could not be delivered to one or more|n'a pas pu etre (?:remis|distribue)"
    r"|la remise (?:du message )?.{0,60}a echoue|address(?:es)? failed|user unknown|recipientnotfound"
)
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b(5[0-5]\d)[ -]")
_ADDRESS = re.compile(r"<?([\w.+'-]+@[\w-]+(?:\.[\w-]+)+)>?")

# First-person absence notices; third-person mentions ("the manager is on leave") are weak.
_OOF_WORDING = re.compile(
    r"absente?(?:\(e\))? du bureau|je suis (?:actuellement )?absente?|je serai absente?|out of (?:the )?office"
    r"|i am (?:currently )?(?:away|out)|i'm (?:currently )?(?:away|out of)|je suis en conges"
    r"|reponse automatique d'absence|absence du bureau|i am on (?:annual )?leave"
    r"|(?:je serai|je suis) (?:\w+ )?(?:hors du bureau|en (?:vacances|conges|deplacement))"
    r"|(?:i'm|i am|i will be) (?:\w+ )?(?:on holiday|on vacation|away from (?:the office|my desk))|(?:i'm|i am) (?:\w+ )?on (?:annual |parental |sick )?leave"
    r"|(?:won't|will not) be checking (?:my )?e-?mails?|not checking (?:my )?e-?mails?|je ne consulterai pas (?:mes|ma)"
)
_OOF_WEAK = re.compile(
    r"en conges|on (?:annual )?leave|de retour le|back in the office|je serai de retour|i will be back"
    r"|limited access to (?:my )?e-?mail|returning (?:on|to the office)|will be back (?:on|in|at)"
    r"|(?:is|are) away (?:for|on|until)|(?:bank|public) holiday|jours? feries?"
)
_OOF_SUBJECT = re.compile(
    r"^(?:automatic reply|reponse automatique|out of (?:the )?office|ooo\b|absente? du bureau|absence du bureau)"
)
_ACK_WORDING = re.compile(
    r"nous avons bien recu|avons bien pris en compte|bien ete (?:recu|enregistre|prise en compte)"
    r"|(?<!avec )accuse de reception|message automatique|reponse automatique|ceci est un (?:message|mail|e-?mail|courriel) automatique"
    # (a time alone -- "sous 48 h", "dans les meilleurs délais" -- is not acknowledgement wording: "la
    # livraison est attendue sous 48 heures" answers; a reply promised within a time is the promise role)
    r"|merci de ne pas repondre|ne pas repondre a ce|ne repondez pas a (?:ce|cet) (?:message|e-?mail|courriel|mail)"
    r"|votre demande (?:a ete|est) (?:enregistree|transmise|bien)|(?:un|une) (?:ticket|dossier|demande) (?:a ete|n°).{0,40}cree"
    r"|numero de (?:ticket|dossier|demande)|we have received your|we've received your|this is an automated"
    r"|automatic(?:ally generated)? (?:response|reply|message)|do not reply to this|please do not reply"
    r"|(?:ticket|case|request) #?\s?[\w-]+ has been (?:created|opened|received)|will get back to you"
    r"|will respond (?:to you )?(?:as soon as|within)|reviewing your request|our team will (?:contact|reply|respond)"
    r"|un conseiller (?:vous repondra|reviendra|va vous repondre)|reviendrons vers vous"
    r"|(?:notre equipe|nos equipes|nos conseillers|our team|one of our (?:advisers|agents)|a member of our team)"
    r"\s(?:vous\s)?(?:repond|will (?:reply|respond|get back))"
)
# Bounce wording a person would not write, for texts without a delivery-status report.
_TEXT_BOUNCE = re.compile(
    r"delivery (?:has )?failed|could not be delivered|undeliverable|mail delivery (?:failed|subsystem)"
    r"|n'a pas pu etre (?:remis|distribue)|address(?:es)? failed|user unknown|recipientnotfound|message not delivered"
    # by role: the message was not delivered (to an address), the address does not exist or is full
    r"|(?:message|e-?mail|courriel|mail)\b[^.]{0,30}(?:wasn't|was not|couldn't be|could not be|n'a pas (?:pu )?ete) (?:delivered|remis|distribue)"
    r"|address (?:couldn't|could not|can't|cannot) be found|adresse (?:est )?introuvable|no such (?:user|mailbox|address)"
    r"|unknown (?:address|recipient|user)|destinataire (?:inconnu|introuvable)|(?:mailbox|boite)(?: (?:is|est))? (?:full|pleine)"
    r"|delivery\b.{0,40}\bfailed|failed permanently|permanent (?:\w+ )?(?:failure|error)s?|returned mail|fatal errors?|(?:account|address|mailbox)\b.{0,30}does not exist"
)
# A delivery failure names the mail system or the address it could not reach.
_MAIL_SYSTEM = re.compile(r"mail delivery|delivery (?:status|subsystem)|serveur de messagerie|mail server|mailer-daemon|postmaster"
                          r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Sentences that promise a reply or describe the queue, without answering anything.
_ACK_LIKE = re.compile(
    r"(?:notre equipe|nos equipes|nos conseillers|un conseiller|un technicien|our team|one of our|an? (?:agent|adviser|advisor)"
    r"|a member of our team|we)\b.{0,60}(?:repond|reviendr|repondr|traite|contacter|will (?:reply|respond|get back|be in touch|contact)"
    r"|get back to you|aim to reply)"
    r"|(?:sera|seront|will be) (?:traite|examine|handled|processed|reviewed|answered)|par ordre d'arrivee|in the order received"
    r"|du lundi au (?:vendredi|samedi)|monday to (?:friday|saturday)"
    r"|^(?:(?:bonjour|bonsoir|hello|hi|hey)\W+)?(?:merci|thank you|thanks|nous vous remercions)\b.{0,60}(?:message|demande|e-?mail|courriel"
    r"|contacting|getting in touch|request|enquiry|contacte|ecrit|reaching out|writing|reporting|signalement|signale"
    r"|letting us know|telling us|informe)"
    r"|(?:ticket|dossier|reference|case|request)\b.{0,25}\b(?:n°|no\.?|number|#|ref)?\s*[a-z]{0,4}-?\d{3,}"
    r"|your reference is|votre reference est|ceci est (?:un|une)|this is an? (?:automated|automatic)"
    # helpdesk notification boilerplate
    # ("Reply to this email with your address and we'll send..." asks for the case's details: not boilerplate)
    r"|repondez (?:simplement )?a (?:cet|ce) (?:e-?mail|message)(?! en (?:nous )?(?:indiquant|precisant|joignant))"
    r"|reply (?:directly )?to this (?:e-?mail|message)(?! with)"
    r"|(?:add|ajouter des) comments?|commentaires|view the status|suivre l'etat|(?:ce|this) (?:message|e-?mail) (?:a ete envoye|was sent)"
    r"|accusons reception|acknowledge (?:receipt|that)|^ref:|personal response"
    # being told of the reply later, sent instructions once the message is reviewed, a confirmation sent
    r"|(?:vous serez|you will be|you'll be) (?:informe\S*|notifie\S*|notified|informed|contacte\S*|contacted)\b.{0,40}"
    r"(?:reponse|reply|response|answer|decision|outcome)"
    r"|(?:receive|recevrez) (?:an? |un |une )?(?:e-?mail|message|courriel)\b.{0,40}(?:further instructions|once (?:it|we)|des que|une fois)"
    r"|\bconfirmation (?:has been|was|a ete|vous a ete) (?:sent|envoyee|adressee)"
)
# Acknowledgement roles read by structure, not by listing templates: a message noun with a
# receipt verb ("votre courriel nous est bien parvenu", "your enquiry has been logged"), a reply
# verb with a time or a future subject ("une réponse vous sera adressée sous 5 jours", "an
# adviser will be in touch shortly"), a reference number, a note that the message is automatic,
# or queue information (response times, volumes, patience).
_MSG_NOUN = (r"(?:message|demande|requete|request|enquiry|inquiry|query|e-?mail|courriel|mail|reclamation|complaint|sollicitation|form|formulaire"
             r"|ticket|dossier|case|tweet|dm|question|note|correspondence|retour|contact)s?")
_RECEIPT_VERB = (r"(?:bien )?(?:recue?s?|reception|parvenue?s?|enregistree?s?|prise? en (?:compte|charge)|notee?s?|transmise?s?"
                 r"|transferee?s?|received|receipt|landed|logged|registered|noted|passed (?:on|to)|forwarded|reached us"
                 r"|created|opened|creee?|ouverte?|arrived|submitted|soumise?s?)")
_RECEIPT = re.compile(
    rf"\b{_MSG_NOUN}\b.{{0,60}}\b{_RECEIPT_VERB}\b|\b{_RECEIPT_VERB}\b.{{0,40}}\b{_MSG_NOUN}\b"
    r"|(?<!avec )accus\w* (?:de )?reception|(?:confirm|acknowledge)\w* (?:the )?receipt|confirm\w* la reception|bien recu"
    r"|\b(?:is|are|est|sont) (?:now |desormais |maintenant )?(?:with|entre les mains de) (?:our|the|notre|nos|l'equipe|votre)\b"
    r"|got your|\bflagged (?:this|it|your \w+) (?:to|with)|\b(?:been |was )?placed with (?:our|the|a)\b|\bmade it (?:to us|through)|\b(?:has )?c(?:o|a)me through|on (?:its|it's) way to (?:us|our|the)|transmise? (?:a|au|aux) (?:notre |nos |la |le |l')?(?:service|equipe|conseiller|departement)"
    r"|(?:passed|forwarded|sent) (?:on )?(?:this |it |your \w+ )?(?:on )?to (?:the |our )?(?:relevant |right |appropriate )?(?:team|department|people)"
    r"|\bwe have your\b|nous avons (?:bien )?votre|(?:it|this|celui-ci|celle-ci|il|elle) (?:a|has) (?:bien )?(?:ete |been )?(?:received|recue?|logged|enregistree?)"
)
_REPLY_VERB = (r"(?:repondr(?:a|ons|ont)|reponse vous (?:sera|parviendra)|vous apporter\w* (?:une )?reponse|reviendr|revenir vers vous"
               r"|recevr\w* (?:une |notre )?reponse|receive (?:a |our )?(?:reply|response|answer)"
               r"|hear (?:back )?from (?:us|our|them|him|her|one of)|hear back|reach out (?:to you|over|via|by|in|on)|come back to (?:you|everyone|each)"
               r"|(?:vous|you) (?:confirmera|confirmerons|will confirm|'ll confirm|informera|tiendra informee?|keep you (?:posted|informed|updated))"
               r"|aurez de nos nouvelles|revien\w* vers vous|dm you|vous (?:ecrire|repondre) en (?:dm|mp)"
               rf"|(?:celui-ci|celle-ci|\bil\b|\belle\b|\bit\b|\bthis\b|\b{_MSG_NOUN})\b.{{0,50}}(?:sera|seront|will be) (?:lue?s?|read|examinee?s?"
               r"|etudiee?s?|analysee?s?|dealt with|looked at|picked up|answered|repondue?s?|reviewed|handled)"
               r"|expect (?:a |our )?(?:reply|response|answer)|(?:a|our) (?:reply|response) (?:from|within|in \d)"
               r"|(?:traiter|etudier|examiner) (?:votre|vos) (?:demande|message|dossier|requete|reclamation)"
               r"|(?:handle|deal with|look at|process) your (?:request|enquiry|inquiry|message|email|query)|look (?:at|into) it\b"
               r"|recontact|vous contacter|prendr\w* (?:contact|connaissance|en charge)|take (?:charge|care) of your|traiter(?:a|ons|ont)|sera traitee?|seront traitee?s"
               r"|etudier(?:a|ons|ont)|examiner(?:a|ons|ont)|(?<!de )vous repond(?:re|ra|rons|ront|ons|ent)?\b|get back to you|be in touch"
               # "Reply to this e-mail with a photo" is an instruction, not a promise to reply
               r"|(?:will|'ll|aim to|try to|to) (?:respond|reply|answer)|(?:respond|reply) (?:to you|within|as soon)"
               r"|replies (?:may|will|can)|be with you|contact you|look into|come back to you"
               r"|vous (?:ecrira|ecrirons|ecriront|rappellera|rappellerons|rappelleront)\b|(?:will|'ll) write (?:to you|back)"
               # ("le livreur vous appellera une demi-heure avant" is the case's: a call alone is no reply)
               r"|(?:will|'ll|shall) (?:call or e-?mail|e-?mail or call|e-?mail) you"
               r"|(?:typically|usually|normally|generally) (?:reply|replies|respond|responds|answer|answers)|(?:replies|responds) (?:to you )?(?:within|in under|as soon)"
               # being told of the reply later, or sent instructions once the message is reviewed
               r"|(?:vous serez|you will be|you'll be) (?:informe\S*|notifie\S*|notified|informed|contacte\S*|contacted)\b.{0,40}"
               r"(?:reponse|reply|response|answer|decision|outcome|suite)"
               r"|(?:receive|recevrez) (?:an? |un |une )?(?:e-?mail|message|courriel)\b.{0,40}(?:further instructions|instructions"
               r"|once (?:it|we)|when (?:it|we)|des que|lorsque|une fois)"
               r"|(?:for|of) (?:a |our )?(?:response|reply))")
_WHEN = (r"(?:sous \d|dans (?:un|les) (?:delai|meilleurs delais|plus brefs delais)|des que possible|au plus (?:vite|tot)"
         r"|as (?:quickly|fast|promptly) as|aussi vite que|sous peu|d'ici peu|before long|at the latest|au plus tard"
         r"|d'ici (?:la )?fin d(?:e|u) |by the end of (?:the )?(?:day|week)|normally|generally|generalement|habituellement|des (?:son|leur|mon|notre) retour|on (?:his|her|their|my) return"
         r"|prochainement|rapidement|tres vite|shortly|soon|as soon as|within|asap|in due course|typically|usually"
         r"|\d+ ?(?:h\b|heures|jours|days|hours)|business days?|working days?|jours ouvr)")
_FUTURE_SUBJECT = (r"(?:\bnous\b|\bun conseiller|\bune conseillere|notre equipe|nos equipes|nos conseillers|our team"
                   r"|\bune? (?:technicien(?:ne)?|expert(?:e)?|specialiste|gestionnaire)\b|\ban? (?:technician|engineer|specialist|expert)\b"
                   r"|an? (?:adviser|advisor|agent|member)|we'll|we will|someone|quelqu'un"
                   r"|nos services|nos experts|le service concerne|our (?:staff|specialists|experts|advisers|agents|services)"
                   r"|the (?:relevant|appropriate|right) (?:team|department|person))")
_PROMISE = re.compile(rf"(?m)^(?=.*{_REPLY_VERB})(?=.*(?:{_WHEN}|{_FUTURE_SUBJECT}))")
# A reference is an identifier right after its noun ("demande n° 7734501", "ref CS-2261904",
# "ticket number is 884213"), never a phone number further on ("pour ce type de demande appelez le 0 892...").
_REFERENCE = re.compile(
    r"(?:\b(?:ticket|case|reference|ref|dossier|demande|request|enquiry|reclamation|rma|report|signalement)\b\.?|(?:sous le|under the) (?:numero|number)"
    r"|(?:assigned|attribuee?|given|allocated) (?:the |a |le |la )?(?:number|numero|reference|ref)"
    r"|\b(?:message|formulaire|form|submission|e-?mail|courriel|tweet)\b (?:n°|no\.?|numero|number|#))"
    r"(?:\s*(?:n°|no\.?|number|numero|id|identifiant|#|:|is|est|de votre demande|sous le numero))*\s*\(?#?\s*[a-z]{0,4}[-/]?\d[\d/-]{2,}"
)
# About the message itself: "le prélèvement automatique" of a cancellation answer is not one.
_AUTOMATED = re.compile(
    r"(?:message|e-?mail|courriel|mail|reponse|reply|response|notification|accuse)s?\b.{0,30}\b(?:automati|auto-?genere|generated)"
    r"|(?:genere|envoye|generated|sent) automati|automatically (?:generated|sent)|this is an automat"
    # "il a été envoyé par un automate", "sent by an automated system": the message says what it is
    r"|par un automate|by an? (?:automated|automatic) (?:system|service|process)"
    # what the message or its sender is, said either way round: "(automated reply)", "envoi
    # automatique", "an automatic acknowledgement", "Moneta's automated assistant"
    r"|\bautomat(?:ed|ic|ique)\b (?:\w+ )?(?:reply|response|message|acknowledg\w*|assistant|helper|agent|notification"
    r"|e-?mail|system|service|confirmation|notice)"
    r"|\b(?:envoi|assistante?|systeme|accuse de reception|notification|robot|agent)s? (?:\w+ )?automati"
    r"|assistante? virtuel(?:le)?|virtual (?:assistant|agent|helper)|chatbot|\bbot\b|(?:i'm|i am|je suis) (?:the |a |an |le |la |l')?\w*bot\b"
)
_QUEUE = re.compile(
    r"\b(?:every|each|all|chaque|tous les|toutes les) (?:message|e-?mail|request|enquiry|demande|courriel|requete|case|ticket"
    r"|dossier|complaint|reclamation)s?\b"
    r"|delais?\b.{0,40}(?:plus longs?|allonge|rallonge)|(?:plus longs?|longer) (?:que|qu'a|than) (?:d'habitude|l'habitude|usual|normal)"
    r"|(?:keep|conserve[rz]|gardez|note[rz]) (?:it|this|ce|cette|le|la|ces)\b.{0,25}(?:reference|future|numero|number)"
    r"|(?:please )?allow (?:us )?(?:up to )?(?:\d+|\w+) (?:working |business )?(?:days?|hours?|weeks?)"
    r"|temps de reponse|delais? de (?:reponse|traitement)|response times?|reply times?|high (?:volumes?|demand)"
    r"|forte (?:affluence|demande)|(?:high|large|unusual) (?:number|volume)s? of|longer than usual|plus longs? que d'habitude"
    r"|ordre d'arrivee|(?:in the )?order (?:received|of arrival)|hang tight|keep this reference|conserve[rz] (?:ce|cette) (?:numero|reference)"
    r"|suivre (?:son|l')avancement|follow (?:its|the) progress|view the status"
    r"|(?:higher|larger|greater) than (?:normal|usual|expected|average) (?:volumes?|demand|number)"
    r"|nombre (?:important|eleve|inhabituel) de (?:demandes|messages|sollicitations|courriels|e-?mails)"
    r"|afflux|volumes? (?:important|eleve|exceptionnel)|file d'attente|(?:number \d+|\d+(?:st|nd|rd|th)) in (?:line|the queue)|in the queue|ordre de (?:reception|receptio)"
    r"|order (?:they were|it was|messages are) received|in the order (?:\w+ )?(?:arrive|come in|came in|reach us)"
    r"|temps d'attente|wait(?:ing)? time|(?:average|current|estimated) wait|attente (?:actuelle|moyenne|estimee)"
    r"|(?:rejoint|joins?|joined|added to|ajoutee? a|fait (?:desormais )?partie de) (?:la |the |notre |our )?(?:file|queue|liste d'attente)"
    r"|\bawaiting (?:an? |the )?(?:agent|response|reply|answer|assignment)|\bstatus\s?: (?:open|new|pending|en cours|ouvert|nouveau)"
    r"|delais?\b.{0,20}(?:peut|peuvent|pourra|may|can|could) (?:atteindre|depasser|reach|exceed|be up to)"
    # the message's own progress, not the case's: "votre demande est en cours de traitement"
    r"|(?:demande|message|requete|dossier|reclamation|request|enquiry|email|ticket)s? (?:\([^)]{0,30}\) )?(?:est |sont |is |are |has been |now )*"
    r"(?:en cours de (?:traitement|examen|analyse|lecture)|being (?:processed|handled|reviewed|looked at)|in (?:our|the) queue"
    r"|dans (?:notre|la) file|en attente de traitement|awaiting (?:review|processing))"
    r"|(?:check|track|follow|view|suivre|consulter) (?:the |l'|le )?(?:status|statut|etat|avancement|progress)\b.{0,15}"
    r"(?:of |de )?(?:your|votre|vos) (?:case|request|ticket|demande|dossier|requete|enquiry)"
    r"|\bsuit son cours\b|(?:work|working|go|going|get|getting) through (?:\w+ )?(?:messages|emails|requests|tickets|enquiries|inquiries)"
    r"|in (?:date|chronological) order|par ordre (?:chronologique|de date|d'arrivee)"
    r"|(?:ajoutee?|added|inscrite?|placee?) (?:a|to|dans|in|on) (?:notre |la |our |the )?(?:liste|file|queue|list)|next in (?:the |our )?(?:pile|line|queue)"
    r"|it'?s now in (?:our|the) queue|\b(?:now )?in line for\b|\ben file pour\b"
    r"|^(?:celui-ci|celle-ci|il|elle|it|this)\b.{0,20}(?:en cours d(?:e |')\w+|being (?:processed|handled|reviewed|routed|forwarded|passed))"
    r"|(?:quote|mention|rappeler|mentionner|indiquer) (?:this|ce|cette) (?:number|reference|numero)"
)


# What to do while waiting: self-help pages and "do not write again" say nothing about this case.
_WAITING = re.compile(
    r"^(?:en attendant|d'ici (?:la|là)|in the meantime|meanwhile|while you wait|until then|dans l'intervalle)\b"
    r".{0,120}\b(?:faq|questions? (?:les plus )?(?:frequentes|courantes)|centre d'aide|aide en ligne|help ?(?:cent(?:re|er)|desk|pages?|articles?)"
    r"|status page|page (?:de )?statut|knowledge ?base|base de connaissances|rubrique aide|support (?:site|pages?)"
    r"|frequently asked|self-service|community|forum)"
    r"|(?:find|trouver\w*) (?:the )?(?:answers?|reponses?|des reponses|la reponse|votre reponse)\b.{0,50}(?:faq|questions|help|aide|centre|center)"
    r"|(?:ne|n')\s?(?:renvoyez|renouvelez|reecrivez|relancez) pas|(?:please )?(?:do not|don't) (?:send|resend|re-send|submit)"
    r" (?:your|another|a new|the same)|(?:sending|resubmitting) (?:your (?:message|request|email) )?again (?:may|will|can)"
    r"|ne pas (?:renouveler|renvoyer|reecrire|relancer|reiterer)|not to (?:resend|send (?:it )?again|write again|chase)"
    r"|\b(?:demandes|messages|requests|tickets|e-?mails|courriels)\b.{0,20}\b(?:en double|duplicates?|en plusieurs exemplaires)\b"
    # (only when nothing follows: "Vous n'avez rien à faire : la box se mettra à jour seule" tells the case)
    r"|^(?:no (?:further )?action (?:is )?(?:needed|required)|aucune action (?:n'est )?(?:requise|necessaire)"
    r"|vous n'avez rien a faire)[^:;,]*$"
    r"|\bnothing (?:else |more |further )?(?:is )?(?:needed|required) (?:from|of) you\b|\bno (?:further )?action (?:is )?(?:needed|required) (?:from|on|of) you"
    # ("inutile de nous renvoyer l'article endommagé" is the case's: only the message is not to be sent again)
    r"|\binutile de (?:nous )?(?:relancer|reecrire|recontacter|renouveler|reiterer)\b"
    r"|\binutile de (?:nous )?(?:renvoyer|reposter|ecrire a nouveau|transmettre a nouveau) (?:votre |vos |un |une |le |la |ce |cette )?"
    r"(?:message|demande|e-?mail|courriel|formulaire|requete)"
    r"|\bno need to (?:chase|resend|re-send|send (?:it |us |this )?again|write (?:to us )?again|follow up|contact us again|get in touch again)"
)
# A confirmation mailed to the customer's address is what a form system does on submission.
_CONFIRMATION = re.compile(r"\bconfirmation (?:e-?mail |message )?(?:has been|was|a ete|vous a ete) (?:sent|envoyee|adressee)"
                           r"|(?:recevoir|receive|recevrez|get) (?:un |une |a )?(?:recapitulatif|copie|copy|summary|confirmation)\b"
                           r"|(?:e-?mail|courriel|message) de confirmation (?:vous )?(?:a ete|vient d'etre) envoye")
# A reply promised by its noun: "a full response will follow", "une réponse vous sera adressée".
_PROMISE_BY_NOUN = re.compile(r"(?:reponse|response|reply|answer|retour)s? (?:sous|within|in|d'ici|under) \d"
                              r"|(?:will|shall|'ll|going to) (?:send|give|provide|issue|write|email) (?:you )?(?:a |an |our )?(?:\w+ ){0,2}"
                              r"(?:response|reply|answer)|(?:reponse|response|reply|answer|suite|retour)\b.{0,20}(?:will follow|suivra|vous sera (?:adressee?"
                              r"|apportee?|envoyee?|communiquee?|donnee?|faite?|transmise?))")
_ROLES = (("receipt", _RECEIPT), ("promise", _PROMISE), ("promise", _PROMISE_BY_NOUN), ("reference", _REFERENCE), ("confirmation", _CONFIRMATION),
          ("automatic", _AUTOMATED), ("queue", _QUEUE), ("waiting", _WAITING))


# Asking this customer for a detail of the case ("afin de traiter votre demande, merci de nous préciser
# votre numéro de commande") is an agent's question, not an acknowledgement role.
_ASKS_DETAIL = re.compile(
    r"(?:merci de|veuillez|pourriez-vous|pouvez-vous|pourriez vous|pouvez vous) (?:nous |me )?(?:preciser|indiquer|communiquer"
    r"|envoyer|transmettre|fournir|joindre|confirmer|adresser)"
    r"|(?:please|could you|can you|would you) (?:send|provide|tell|give|confirm|share|attach|reply with)(?: us| me)? "
    r"|(?:envoyez|transmettez|communiquez|indiquez|precisez|donnez|dites)-(?:nous|moi)\b|^(?:send|dm|give|tell) (?:us|me) (?:your|the)\b"
)


@kept_by_text  # speed only: a pure function of one text; templates recur across a collect
def _ack_roles(sentence: str) -> frozenset[str]:
    """Name the acknowledgement roles a folded sentence plays (empty when it has none)."""
    if _ASKS_DETAIL.search(sentence):
        return frozenset()
    roles = frozenset(name for name, pattern in _ROLES if pattern.search(sentence))
    # A sentence made only of the exchange's words (mail.notice_words) plays its role whatever the
    # template: "Un retour vous sera fait par e-mail d'ici 3 jours", "Bien reçu ! On regarde ça".
    # Not a question or a redirect: "Pouvez-vous nous écrire en DM ?" asks, "contact us via the form" sends.
    own = case_words(sentence)
    if len(own) < CASE_WORDS and not sentence.rstrip().endswith("?") \
            and not _SENDS_ELSEWHERE.search(sentence):
        roles |= exchange_roles(sentence)
        # ...and replying within a time is a promise, however it is worded ("nous revenons vers vous au
        # plus vite", "someone will pick this up shortly").
        if "replying" in roles and _WHEN_SEARCH.search(sentence):
            roles |= {"promise"}
    # When the service can be reached, with nothing else said: "Notre équipe est disponible du lundi au
    # vendredi, 9h-18h", "Our support hours are Monday to Friday, 8am-8pm" (dates are no case words here).
    if _HOURS.search(sentence) and sum(w not in CALENDAR for w in own) < CASE_WORDS:
        roles |= {"hours"}
    return roles


_WHEN_SEARCH = re.compile(_WHEN)
# A span of days or of hours, or round-the-clock service.
_DAY = (r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
        r"|mon|tue|wed|thu|fri|sat|sun)")
_HOUR = r"\d{1,2}(?:[h:.]\d{0,2}| ?[ap]\.?m\.?)"
_HOURS = re.compile(rf"\b(?:du )?{_DAY}\s*(?:au|a|-|–|to|through|thru)\s*{_DAY}\b|\b{_HOUR}\s*(?:-|–|a|to|until)\s*{_HOUR}"
                    r"|\b7 ?j ?/ ?7|\b24 ?h ?/ ?24|\b7 days a week|\b24/7|\bopening (?:hours|times)|\bheures d'ouverture|\bhoraires? d'ouverture|\bsupport hours|\bnos horaires")


# What a notice tells every customer: tips and reminders ("Pensez à préparer votre numéro de commande",
# "Top tip: ...", "Pour rappel, ..."), what to do in case of a kind of problem ("En cas de problème de
# connexion, consultez ..."), a question inviting self-service ("Want to check on your order in the
# meantime?", "Did you know you can start a return yourself?"), what one may find or do oneself.
_POINTER = re.compile(
    r"^(?:astuce|conseil|tip|top tip|bon a savoir|good to know|a savoir|pour rappel|rappel|a noter|n\.?b\.?|note|important"
    r"|did you know|saviez-vous|le saviez-vous|pensez a|n'oubliez pas|don't forget|remember|petit conseil|quick tip)\b"
    r"|^(?:en cas d[e']|in case of|pour (?:un|une) (?:traitement|reponse|prise en charge|suivi) plus (?:rapide|efficace)"
    r"|for (?:a )?(?:faster|quicker|speedier) (?:reply|response|answer|service|help)|pour (?:suivre|toute|consulter|gerer)"
    r"|to (?:track|check|follow|manage|view))\b"
    r"|\b(?:pensez a|n'oubliez pas de|don't forget to|remember to)\b"
    r"|\b(?:you (?:may|might) (?:find|like)|vous trouverez (?:peut-etre|sans doute|aussi|egalement)|you can (?:also )?(?:find|check"
    r"|track|start|manage|visit|follow|view|change|update|do)|vous pouvez (?:aussi |egalement |a tout moment )?(?:consulter|suivre"
    r"|retrouver|trouver|gerer|modifier|nous joindre|vous rendre))\b"
    r"|\b(?:most|la plupart des|many|de nombreuses|beaucoup de) (?:\w+ )?(?:questions|issues|problems|problemes|demandes|queries)\b"
    r"|\b(?:yourself|vous-meme)\b"
    # what usually happens if...: "If your order has been delivered to a neighbour, you'll usually find a card"
    r"|^(?:if|si) (?:your|votre|vos|vous)\b.{0,80}\b(?:usually|generally|normally|often|generalement|habituellement|en general)\b"
    # a menu: "Type AGENT to talk to a person, or choose a topic"
    r"|^(?:type|tapez|choose|choisissez|select|selectionnez|reply with|repondez par)\b"
    # a regulator or a procedure to turn to if not satisfied; what other customers ask
    r"|\b(?:if you are|if you're|si vous n'etes) (?:not|pas) (?:satisfied|happy|satisfaite?)\b|\bombudsman|\bmediateur"
    r"|\b(?:other|many|most|nos|de nombreux|d'autres) (?:customers|clients)\b.{0,30}\b(?:ask|often|souvent|demandent)"
    # self-service steps told to anyone: "Go to My Account > Orders and choose ..."
    r"|^(?:go to|head to|log in|sign in|visit|rendez-vous (?:sur|dans)|connectez-vous|consultez)\b.{0,60}>")
# A help link's label: a line that is mostly an address ("Où est ma commande ? brand.example/aide/suivi").
_LINK = re.compile(r"https?://\S+|www\.\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:example|com|fr|co\.uk|net|org|io|eu|uk)(?:/\S*)?")
POINTER_LABEL_WORDS = 8
_FOR_INFORMATION = re.compile(r"(?:please note|veuillez noter|note that|a noter|nb\b|pour information|for (?:your )?information"
                              r"|pour votre information|pour rappel|as a reminder|rappel|important|good to know|bon a savoir)")
_GENERIC_CHECK = re.compile(r"^(?:to help us|pour nous aider|afin de nous aider)\b|\b(?:make sure|assurez-vous|veillez a|verifiez que)\b")
_DIGIT = re.compile(r"\d")
_YOURS = re.compile(r"\b(?:your|votre|vos|ton|ta|tes)\b")
# A question asking this customer to do something for the case is an agent's ("Pouvez-vous nous renvoyer le
# devis ?"); the self-service ones invite ("Want to check on your order?", "Did you know...?").
_ASKS_ACTION = re.compile(r"\b(?:pouvez|pourriez|voulez|voudriez|auriez|avez)[- ]vous\b|\b(?:can|could|would|will) you\b"
                          r"|\bmerci de\b|\bplease\b")


def _pointer(sentence: str) -> bool:
    """Whether a folded sentence only points the reader somewhere or tips them, as any notice does (an
    amount or a question asking this customer for a detail is the case's)."""
    if _AMOUNT.search(sentence) or _ASKS_DETAIL.search(sentence):
        return False
    # "Please note that refunds are issued to the original payment method" tells everybody; "Please note
    # that your refund was issued today" tells this customer.
    if _FOR_INFORMATION.match(sentence) and not _YOURS.search(sentence):
        return True
    # checks any customer is asked to make, with nothing specific ("make sure you're on the latest version")
    if _GENERIC_CHECK.search(sentence) and not _DIGIT.search(sentence):
        return True
    if _POINTER.search(sentence) or sentence.rstrip(" )").endswith("?") and not _ASKS_ACTION.search(sentence):
        return True
    links = len(_LINK.findall(sentence))
    return bool(links) and _word_count(_LINK.sub(" ", sentence)) <= POINTER_LABEL_WORDS * links


# Telling the customer to go or write elsewhere is no promise: "merci de nous contacter par MP".
_SENDS_ELSEWHERE = re.compile(
    r"\b(?:appele[zr]|contacte[zr]|utilise[zr]|veuillez|ecrive[zr]|merci de (?:nous|passer|contacter|utiliser|remplir)"
    r"|please (?:call|use|contact|fill|visit|dm|message|write|email)|call us|dm us|write to us|message us|reach (?:us|out)"
    r"|have a look|jetez un (?:oeil|coup d'oeil))\b")
# Pointers any notice gives, about no case in particular: the help centre or FAQ, tracking "at any
# time", what to read while waiting. ("Pour résilier, rendez-vous dans votre espace client, rubrique
# Contrat" is a procedure for this customer: it names no help resource and no tracking.)
_SELF_HELP = re.compile(
    r"\b(?:faqs?|help ?(?:cent(?:re|er)|pages?|hub|desk|site|articles?)|centre d'aide|aide en ligne|knowledge ?(?:base|hub)"
    r"|base de connaissances|pages? d'aide|questions? (?:les plus )?(?:frequentes|courantes|usuelles)|common (?:questions|issues)"
    r"|frequent(?:ly asked)? (?:questions|issues)|most (?:frequent|common)|tutori\w*|communaute|community|forum|status page"
    r"|(?:in )?(?:real time|temps reel)|(?:at )?any time|a tout moment|en direct|at your convenience"
    r"|pour toute (?:autre )?(?:information|question)|for (?:any|all) (?:other )?(?:information|questions)"
    r"|(?:order|parcel|delivery) tracking"
    # triage on the kind of request, not this one: "If your question is about a return, start it from My Orders"
    r"|^(?:if|si) (?:your|votre|vous avez une) (?:question|demande|message|request|enquiry|query)\b)\b")


# Roles that alone do not make a message automatic: "Nous avons pris note de votre demande." and "Merci,
# on regarde ça et on revient vers vous !" are curt human replies (scored, low).
_RECEIVED = frozenset({"receipt", "received"})
_WEAK_ROLES = _RECEIVED | {"promise", "replying"}


def _acknowledges(roles: frozenset[str]) -> bool:
    """Whether a message's roles make it an acknowledgement: a strong role (a reference, an automatic
    notice, queue information...), a promise to reply worded as such, or a receipt with a reply to come."""
    return bool(roles - _WEAK_ROLES) or "promise" in roles or bool(roles & _RECEIVED and "replying" in roles)


_NOT_MONITORED_TEXT = (
    r"(?:adresse|boite|boite aux lettres|mailbox|address|inbox|account|compte)\b.{0,40}"
    r"(?:n'est pas|ne sont pas|is not|isn't|are not)\s+(?:consultee?s?|surveillee?s?|lue?s?|relevee?s?|monitored|read|checked|attended)"
    r"|(?:ne peut pas|ne peuvent pas|cannot|can't|can ?not) (?:recevoir de reponse|recevoir les reponses|receive (?:replies|emails|responses))"
    r"|(?:ne pouvant|qui ne peut|ne peut|ne peuvent|unable to) (?:pas )?(?:recevoir|receive|accept|accepter)\b.{0,20}(?:reponses?|replies|messages?|e-?mails?)"
    r"|\bno-?reply\b|\bne-?pas-?repondre\b|donotreply|unmonitored|not monitored|non surveillee"
    r"|votre message ne sera pas lu|your (?:message|email) will not be read"
    r"|(?:ce compte|this account) ne repond pas|(?:this account|we) (?:does not|do not|don't) (?:reply|respond) to (?:messages|dms|emails)"
    # by structure: what arrives here is not read / handled, whatever the words around it
    r"|(?:messages?|e-?mails?|courriels?|replies|reponses?)\b.{0,40}(?:ne sont pas|ne seront pas|ne sera pas|n'est pas"
    r"|are not|aren't|will not be|won't be|is not|isn't)\s+(?:\w+ )?(?:traitee?s?|lue?s?|consultee?s?|read|answered"
    r"|processed|monitored|checked|picked up|seen|opened|handled|actioned|regardee?s?|ouverte?s?)"
    r"|(?:aucune?|no) (?:reponse|reply|replies|message|e-?mail)s?\b.{0,30}(?:ne peut|ne pourra|ne sera|can|will) (?:y )?(?:etre |be )?"
    r"(?:traitee?|lue?|read|handled|processed|answered|seen)"
    r"|adresse (?:technique|d'envoi|de notification|automatique)\b"
    r"|(?:we|nous) (?:do not|don't|never|ne|n') ?(?:read|lisons|consultons|monitor|check|surveillons|relevons)\b(?: pas| jamais)?"
    r".{0,20}\b(?:replies|reponses|messages?|e-?mails?|courriels?|this|cette|ce|cet|ces|here|ici)\b"
    r"|(?:message|e-?mail|courriel)\b.{0,20}(?:n'a pas ete (?:lu|consulte|traite)|(?:was|has) not been read|was not read)"
    r"|ne sert qu'a (?:l'envoi|envoyer)|(?:is )?only (?:used )?(?:for|to) send|\b(?:inbox|address|mailbox|account) only sends?\b"
    r"|(?:replies|reponses?|messages?|e-?mails?|courriels?)\b[^.;]{0,40}\b(?:go(?:es)? nowhere|(?:ne )?(?:vont|va|arrivent|aboutissent) nulle part)"
    r"|\b(?:aucune|no) (?:lecture|reading|monitoring|surveillance)\b (?:des|of|de)"
    r"|(?:compte|account|adresse|address|inbox|mailbox)\b.{0,30}(?:n'est pas|isn't|is not)\s+(?:suivie?|staffed|manned)"
    r"|uniquement informati(?:f|ve)|for information (?:purposes )?only|information-only|informational only"
    r"|(?:merci de |veuillez )?ne pas utiliser cette adresse|(?:please )?do not use this (?:e-?mail )?address"
    r"|(?:ne recoit|ne recoivent|does not receive|doesn't receive|cannot accept|n'accepte) (?:pas )?(?:les |de |d')?(?:reponses|messages|e-?mails|replies|incoming)"
    r"|(?:adresse|address|mailbox|inbox|boite)\b.{0,30}(?:utilisee?|used|reserved) (?:uniquement|only|exclusivement) (?:pour|for|to) (?:l'envoi|send|sending|outgoing)"
    r"|(?:adresse|boite|mailbox|inbox|address)\b.{0,30}(?:n'est plus|is no longer|isn't|is not) (?:\w+ )?(?:utilisee?|active?|en service|in use|staffed|manned)"
    r"|(?:this|ce) (?:account|compte)\b.{0,10}(?:n'est pas|isn't|is not) (?:\w+ )?(?:staffed|manned|suivi|surveille)"
    r"|send-only|envoi seul|(?:replies|reponses?|messages?)\b.{0,30}(?:will not|won't|ne nous) (?:reach|parviendr)"
    # by role: this address / account, negated, and reading or serving ("cette boîte n'est plus relevée",
    # "this profile is not used for customer support", "ce compte n'assure pas le service client")
    r"|(?:cette|cet|ce|this) ?(?:adresse|address|boite|inbox|mailbox|compte|account|profil|profile|canal|channel|handle|numero)\b"
    r"[^.;:!?]{0,40}?(?:\bn'|\bne\b|\bnot\b|n't\b|\bno longer\b|\bnever\b)[^.;:!?]{0,30}?"
    r"\b(?:consult|relev|surveill|lue?s?\b|lit\b|lisons\b|read\b|monitor|check|staff|mann|attend|utilis|used\b|suivie?\b|trait|handl|assur|take\b"
    r"|support|repond|repli|reply|answer|recoi|receiv|accept)"
    r"|\b(?:nobody|no one|no-one|personne ne)\b.{0,20}\b(?:reads?|lit|monitors?|checks?|consulte|answers?|repond)"
    r"|(?:messages?|replies|reponses?|e-?mails?|courriels?)\b[^.;]{0,40}(?:deleted unread|supprimee?s? sans (?:etre )?lue?s?"
    r"|ne (?:nous )?parvien\w* pas|(?:will not|won't|never) reach us)"
    r"|(?:do not|don't|cannot|can't) (?:offer|provide|give) (?:any )?(?:customer )?(?:support|service|help|assistance) (?:on|via|through|here|from)"
    r"|ne (?:fournit|fournissons|assure|assurons|propose|proposons) (?:pas|aucun\w*) (?:de |d'|le |la |l')?(?:service|support|assistance|relation)"
    r"|(?:reponses?|replies|repondre)\b.{0,30}(?:ne sont pas possibles|n'est pas possible|(?:is|are) not possible|impossible)"
    # (declining a kind of question here -- "nous ne pouvons pas traiter les questions de facturation ici" --
    # is a redirect by a person who read it)
    r"|(?:can't|cannot|can not|unable to|ne pouvons pas|ne pouvons) (?:help|aider|assist|handle|traiter)\b"
    r"(?! (?:les |vos |des |the |your |any |such )?(?:\w+ )?(?:questions|demandes|queries|requests|problemes|problems|issues|matters)\b).{0,30}"
    r"\b(?:here|ici|on this|sur ce|via this|from this)\b"
    r"|(?:unable|not able|cannot|can't|ne pouvons pas|ne sommes pas en mesure de) (?:to )?(?:respond|reply|answer|repondre|traiter)\b"
    r"[^.]{0,40}\b(?:on|via|sur|par|from|to|a) (?:this|these|ce|cet|cette|ces)\b"
    r"|(?:adresse|address|boite|mailbox|inbox)\b[^.;]{0,25}\b(?:qui ne|that (?:does not|doesn't|cannot|can't|is not))\b[^.;]{0,20}"
    r"(?:trait|lue?\b|lit\b|read|monitor|consult|accept|recoi|receiv|repond|reply)"
    r"|(?:adresse|address|mailbox|inbox|boite)\b.{0,30}(?:reservee?|reserved|utilisee?|used|dediee?|dedicated)\b.{0,25}"
    r"(?:envoi|sending|outgoing|notifications?|send)\b"
    r"|(?:cannot|can't|can not|ne pouvez pas|impossible de) (?:reply|respond|repondre|ecrire|write) (?:to|a) (?:this|cette|cet|ce)\b"
    r"|(?:messages?|e-?mails?|courriels?|demandes?|requests?|questions?|dms?|tweets?)\b[^.;]{0,30}(?:n'y (?:sont|seront) (?:pas|jamais)"
    r"|(?:sent|envoyee?s?|posted) (?:here|ici)\b.{0,20}(?:not|pas|never|jamais|unanswered|sans reponse))"
)


_NOT_MONITORED = re.compile(_NOT_MONITORED_TEXT)
# Every not-monitored wording negates or restricts the channel, or names a no-reply address: a sentence
# with none of these cues is not searched (the notice's branches start from words as common as
# "message" or "this", so its words alone spare few searches).
_NOT_MONITORED_CUE = re.compile(
    r"\bn'|\bne\b|\bnot\b|n't\b|\bnever\b|\bno\b|\bnobody\b|\bunable\b|\bcannot\b|\bcan ?not\b|impossible|unread"
    r"|\bjamais\b|\baucune?\b|personne|supprim|no-?reply|donotreply|ne-?pas-?repondre|unmonitored|send-only|envoi seul"
    r"|informati|information-only|\bonly\b|uniquement|exclusivement|reserv|dedi|technique|automatique|unanswered"
    r"|sans reponse|\bnon\b|nowhere|nulle part")


@kept_by_text  # speed only: a pure function of one text; templates recur across a collect
def _not_monitored(folded: str) -> bool:
    return bool(_NOT_MONITORED_CUE.search(folded)) and bool(_NOT_MONITORED.search(folded))
# An absence notice by role: someone (I, we, the service, the offices) is away or closed, with a
# return date, a period, or who to write to meanwhile ("Je ne suis pas au bureau jusqu'au 12",
# "I'm taking some time off and will return on 5 January", "nos bureaux font une pause du 1er au 22").
_AWAY = re.compile(
    r"\b(?:absente?s?|absence|conges?|vacances|en deplacement|en mission|en formation|en arret|hors du bureau"
    r"|pas au bureau|not in the office|out of (?:the )?office|(?:away|off) (?:from|until|till|on|for)|on (?:\w+ )?leave"
    r"|holidays?|vacation|time off|day off|(?:i'm|i am|je suis) off|travel+ing|fermee?s?|closed|shut|pause \w+"
    r"|fermeture|reouverture|reopen\w*|break|rtt|en repos|(?:jours?|semaines?|periode|moment)s? de (?:repos|conges|vacances|pause)|offline|hors ligne|indisponibles?|unavailable|not available"
    r"|(?:ne suis|ne serai|n'est|ne sommes) (?:pas |plus )?disponibles?|no longer (?:work|with)|left the (?:company|business)"
    r"|ne (?:travaille|fais|fait) plus|a quitte|ai quitte|(?:i'm|i am|i'll be|i will be) out\b|out until)\b")
_AWAY_SUBJECT = re.compile(r"^(?:\w+ )?(?:en|on|away|off|out|absent|actuellement|currently)\b"
                           r"|\b(?:je|j'|i|i'm|me|my|mon|ma|nous|we|our|notre|nos|service|bureaux?|offices?|team|equipe|agence|support)\b")
_BACK = re.compile(
    r"\b(?:jusqu'?(?:au|a|en)|until|till|du \d{1,2}(?:er)? .{0,20}au \d|from \d.{0,20}to \d|(?:de )?retour|back (?:on|in|at|from)"
    r"|return(?:ing|s)?\b|reprendr\w*|reprise|reopen\w*|reouverture|a partir d|urgent\w*|urgence|collegue|colleague"
    r"|en mon absence|in my absence|during my absence|pendant mon absence|avant le \d|not before|pas avant"
    r"|direct your (?:enquiry|email|message|request)|adressez-vous|vous adresser a|s'adresser a|contact \S+@|(?:when|once) (?:i'm|i am|we're|we are) back"
    r"|a mon retour|(?:i'm|i am) back"
    # from when: "after 28 November", "dès vendredi matin", "dès le 3"
    # ("vous pouvez retirer votre colis dès samedi" is no return: the messages are handled from then)
    r"|(?:after|apres le) \d{1,2}\b|(?:traitee?s?|lue?s?|handled|answered|read|repondu\w*)\b.{0,20}"
    r"\b(?:des|from|on) (?:le \d|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|demain|tomorrow|monday|tuesday"
    r"|wednesday|thursday|friday|saturday|sunday|\d))")


def _beside_absence(sentence: str) -> int:
    """How many words of its own a sentence has besides its absence, its return and its dates."""
    rest = _BACK.sub(" ", _AWAY.sub(" ", sentence))
    return sum(1 for w in case_words(rest) if w not in CALENDAR)


@kept_by_text  # speed only: a pure function of one text; templates recur across a collect
def _only_absence(sentence: str) -> bool:
    """Whether each clause of a sentence is about the absence or says nothing of the case: "Notre service
    est fermé le dimanche, mais vous pouvez retirer votre colis au point relais dès samedi" answers."""
    return not any(_substantive(c) for c in _ACK_CLAUSE.split(sentence)
                   if not (_AWAY.search(c) or _CLOSURE.search(c) or _BACK.search(c)))


def _absence_notice(content: list[str]) -> bool:
    """Whether the sentences are an absence notice: who is away and until when (or who to write to),
    with nothing else about the case."""
    away = [s for s in content if _AWAY.search(s) and _AWAY_SUBJECT.search(s)
            and _beside_absence(s) < OOF_WEAK_CASE_WORDS and not _AMOUNT.search(s) and _only_absence(s)]
    if not away or not any(_BACK.search(s) for s in content):
        return False
    return not any(_substantive(s) for s in content if s not in away and not _BACK.search(s))


_CLOSURE = re.compile(
    r"(?:service(?: client(?:s|ele)?)?|bureaux|boutique|magasin|offices?|team|customer service)\b.{0,25}"
    r"\b(?:est|sont|is|are|will be|sera|seront) (?:\w+ )?(?:ferme|fermee|fermes|fermees|closed)\b"
    r"|closed (?:until|from|for the)|ferme(?:e|s)? (?:du|jusqu'au|jusqu au)"
)
_DM = re.compile(r"\b(?:en|par) (?:dm|mp|message prive)\b|\bdm us\b|direct message|\bdm\b.{0,20}\b(?:order|commande|numero|number)")
_ACK_SUBJECT = re.compile(
    r"^(?:accuse de reception|acknowledge?ment|ticket received|request received|\[request received\]"
    r"|demande (?:recue|enregistree)|votre demande a (?:bien )?ete (?:recue|enregistree)|automatic reply)"
)
_AUTO_PRECEDENCE = {"auto_reply", "bulk", "junk", "list"}
_PHONE = re.compile(
    r"(?<!\d)(?:\+33 ?|0)[1-9](?:[ .-]?\d{2}){4}(?!\d)|(?<!\d)0 ?8 ?9\d(?:[ .-]?\d{2,3}){2,3}(?!\d)|(?<!\d)3\d{3}(?!\d)"
)
_PREMIUM = re.compile(r"(?<!\d)(?:\+33 ?|0) ?8 ?9\d")
_URL = re.compile(r"https?://[^\s<>\")]+|www\.[^\s<>\")]+")
_REDIRECT = re.compile(
    r"appele[zr]|contacte[zr][- ](?:nous|notre)|telephon|joindre (?:notre|le) service|par telephone"
    r"|notre service client(?:s)? au|composez|numero (?:vert|de telephone|indigo|surtaxe)"
    r"|veuillez (?:utiliser|remplir|passer par)|formulaire|espace client|rubrique contact|chat en ligne"
    r"|via (?:notre|l'|le|la) (?:site|application|appli|espace|chat|messagerie|formulaire)"
    r"|cette adresse (?:n'est|e-?mail n'est) (?:pas|plus)|ne (?:traitons|traite) pas les demandes par"
    r"|please (?:call|use|fill|visit|contact us (?:via|through|by phone|on))|call (?:us|our)|contact form|customer (?:area|portal|account)"
    r"|web form|live chat|we (?:do not|don't) (?:handle|process|answer) .{0,30}e-?mail"
    r"|\b(?:en|par) (?:dm|mp|message prive)\b|\bdm us\b|\b(?:un|a) dm\b|direct message|ecrivez-nous en"
    r"|(?:vous )?invit\w* a (?:contacter|appeler|joindre|vous rendre|utiliser|vous adresser)"
)
_FILLER = re.compile(
    r"^(?:bonjour|bonsoir|madame|monsieur|cher|chere|hello|hi|dear|merci|thank|cordialement|bien a vous|regards|best"
    r"|nous vous (?:en )?remercions|je vous (?:en )?remercie|we (?:thank you|appreciate your)"
    r"|kind regards|a (?:tres )?bientot|bonne (?:journee|soiree)|belle journee|le service|l'equipe|the \w+ team"
    r"|customer (?:service|care)|service clients?|support)\b"
)


def _auto_headers(headers: dict[str, str]) -> str:
    """Give back the name of the header that marks a message as automatic, or ""."""
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-autogenerated"):
        if name in headers:
            return name
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    if (
        headers.get("x-auto-response-suppress")
        and "x-ms-exchange-generated-message-source" in headers
    ):
        return "Exchange generated message"
    return ""


def _bounce(msg: ParsedMessage) -> Classification | None:
    report = (
        msg.content_type == "multipart/report"
        and bool(msg.delivery_status)
        or any("status" in block for block in msg.delivery_status)
    )
    sender = bool(_BOUNCE_SENDER.match(msg.from_address))
    # A bounce subject alone proves little (a brand may keep "Undelivered parcel" as subject).
    subject = bool(_BOUNCE_SUBJECT.search(_fold(msg.subject))) and bool(
        _BOUNCE_BODY.search(_fold(msg.text)) or msg.headers.get("x-failed-recipients")
    )
    if not (report or sender or subject):
        return None
    failed: list[str] = []
    diagnostic = ""
    statuses: list[str] = []
    for block in msg.delivery_status:
        status = block.get("status", "")
        recipient = block.get("final-recipient") or block.get("original-recipient") or ""
        if status:
            statuses.append(status)
        if recipient and (status.startswith("5") or block.get("action", "").lower() == "failed"):
            failed.append(recipient.split(";", 1)[-1].strip().strip("<>").lower())
        diagnostic = diagnostic or block.get("diagnostic-code", "").split(";", 1)[-1].strip()
    folded = msg.text
    if not statuses:
        statuses = [".".join(m) for m in _STATUS.findall(folded)]
    if not failed and msg.headers.get("x-failed-recipients"):
        failed = [a.lower() for a in _ADDRESS.findall(msg.headers["x-failed-recipients"])]
    if not failed:
        own = {msg.from_address, *msg.to}
        for line in folded.splitlines():
            if (
                _STATUS.search(line)
                or _SMTP_CODE.search(line)
                or re.match(r"^\s*<?[^\s@<>]+@[^\s@<>]+>?\s*:?\s*$", line)
            ):
                for addr in _ADDRESS.findall(line):
                    if addr.lower() not in own and addr.lower() not in failed:
                        failed.append(addr.lower())
    if not diagnostic:
        for line in folded.splitlines():
            if _STATUS.search(line) or _SMTP_CODE.search(line):
                diagnostic = line.strip()
                break
    if statuses and all(s.startswith("4") for s in statuses) and not sender and not subject:
        return None
    if statuses and all(s.startswith(("2", "4")) for s in statuses):
        # A delay warning or a success notice: automatic, but the message may still arrive.
        return Classification(
            ReplyKind.AUTO_ACK, f"delivery status notification ({statuses[0]}), not final"
        )
    why = (
        "delivery-status report"
        if report
        else "mailer-daemon sender"
        if sender
        else "bounce subject"
    )
    return Classification(
        ReplyKind.BOUNCE, why, failed_recipients=failed, bounce_diagnostic=diagnostic[:500]
    )


_LEADING_MENTIONS = re.compile(r"^(?:@\w+[\s,:]*)+")
# A sign-off by initials or a first name after ^, - or / at the very end of the text.
_PERSON_SIGNED = re.compile(r"(?:^|\s)(?:\^|[-\u2013/])\s?[A-Z][\w.]{1,14}\s*$")


# The first word of a sign-off line, after a closing formula on the same line ("Best, Amelia").
_SIGN_OFF = re.compile(r"^(?:(?:bien )?cordialement|bien a vous|regards|kind regards|best(?: wishes| regards)?|thanks"
                       r"|thank you|cheers|merci|sincerely)?\W*([a-z]+)")


def _signed_by_person(text: str, signature: str) -> bool:
    """Whether one of the last lines of an e-mail or of its signature block is a person's sign-off: a
    first name, alone or with a surname, an initial or a role ("Aurélie, service clients", "Owen
    Price", "Best, Amelia")."""
    tail = [line.strip() for line in text[-200:].splitlines() if line.strip()][-3:]
    tail += [line.strip() for line in signature[:300].splitlines() if line.strip()][:4]
    for line in tail:
        if len(line) > 60 or line.endswith((".", "!", "?", ":")) and not _INITIAL_LINE.search(line):
            continue
        found = _SIGN_OFF.match(_fold(line))
        if found and found.group(1) in FIRST_NAMES:
            return True
    return False


_INITIAL_LINE = re.compile(r"\b[A-Z]\.$")  # "Marc D."


# A sentence ends after . ! ? -- not after an abbreviation that introduces a number ("réf. 4471",
# "n°. 12", "No. 5") -- or at a blank line.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<![Rr][ée]f\.)(?<!\bn°\.)(?<!\b[Nn]o\.)\s+|\n\s*\n")
# A word is what has a letter or a digit in it: an emoji is no word ("Bonjour 👋 merci de votre message !").
_WORDLIKE = re.compile(r"\w")


@kept_by_text  # speed only: a pure function of one text; templates recur across a collect
def _word_count(sentence: str) -> int:
    return sum(map(bool, map(_WORDLIKE.search, sentence.split())))  # (C loops: read per sentence)


def _sentences(text: str) -> list[str]:
    """Give back the folded sentences of a text that carry content (greetings/closings dropped)."""
    # A tweet's leading @mentions are an address, not content: "@claire merci pour votre message !"
    sentences = [_LEADING_MENTIONS.sub("", _fold(s).strip()) for s in _SENTENCE_END.split(text) if s.strip()]
    # "Bonjour," / "Cordialement," / "Thank you for your patience." are not content.
    return [s for s in sentences if not (_FILLER.match(s) and _word_count(s) <= 6) and len(s) > 3]


def _words(sentences: list[str]) -> int:
    return sum(_word_count(s) for s in sentences)


def _redirect(content: list[str], text: str) -> tuple[bool, str]:
    """Say whether the text mostly sends the customer elsewhere, and where to."""
    redirecting = [s for s in content if _REDIRECT.search(s) or _PREMIUM.search(s)]
    if not redirecting:
        return False, ""
    target = ""
    phones = _PHONE.findall(text)
    premium = [p for p in phones if _PREMIUM.match(p)]
    if premium or phones:
        target = re.sub(r"\s+", " ", (premium or phones)[0]).strip()
    else:
        urls = _URL.findall(text)
        target = urls[0].rstrip(".,;") if urls else ""
    words = _words(content)
    share = _words(redirecting) / max(words, 1)
    # A short answer may name the customer area as the place where something is done: only a
    # message mostly about going elsewhere is a redirect.
    return share >= 0.5 or (words <= 25 and share >= 0.3), target


# Courtesy that could go to anybody says nothing about the case: "Nous sommes désolés de la gêne
# occasionnée", "Your email is important to us", "we appreciate your patience".
_COURTESY_ONLY = re.compile(
    r"^(?:nous sommes |we're |we are |je suis |i'm |i am )?(?:sincerement |vraiment |so |very |truly )?"
    r"(?:desole|navre|sorry)e?s?\b.{0,40}(?:gene occasionnee|desagrement|inconvenience|(?:a |any |this |ce |un )?(?:probleme|problem|issue)s?)\W*$"
    r"|(?:est|is) (?:tres |very |really )?important(?:e)? (?:pour nous|to us)|compte (?:beaucoup )?pour nous|nous tient a coeur"
    r"|^(?:we |nous )?(?:appreciate|remercions?|thank)\w* (?:you )?(?:for )?(?:de |pour )?(?:your|votre) (?:patience|understanding|comprehension)"
)
# Inside one sentence an acknowledgement may carry the answer: "Nous avons bien pris en compte votre
# résiliation : elle sera effective le 30 juin", "We have received your mirror and your refund has
# been issued": such a clause is read on its own.
_ACK_CLAUSE = re.compile(r"\s*[:;]\s*|,?\s+(?:et|and|mais|but|puis|then|so)\s+")
# A clause cut from an acknowledgement that still speaks of the message or of replying to it
# ("...et vous contactera dès que possible", "numéro de suivi de votre demande") is part of it.
# Opening hours beside a promise ("our team is online 8am-8pm, 7 days a week, and will reply...") too.
_ACKISH = re.compile(rf"{_REPLY_VERB}|\b{_MSG_NOUN}\b|{_RECEIPT_VERB}"
                     r"|\d+ ?(?:am|pm|h)\s*(?:-|a|to)\s*\d+ ?(?:am|pm|h)\b|7 days a week|7 ?j ?/ ?7|24 ?h ?/ ?24"
                     r"|(?:is|are|sommes|est|sont) (?:online|en ligne|joignables?|available) (?:de |from |du |\d)"
                     r"|en cours d(?:e |')(?:traitement|examen|analyse|lecture|etude)|being (?:processed|handled|reviewed|looked at)"
                     r"|in (?:our|the) queue|\bin line\b"
                     r"|^(?:sera|seront|will be) (?:lue?s?|read|examinee?s?|etudiee?s?|analysee?s?|dealt with|looked at)")


@kept_by_text  # speed only: a pure function of one text; templates recur across a collect
def _case_clause(clause: str) -> bool:
    # (a quoted clause is the customer's own subject told back: "concernant : « Problème de connexion »")
    return len(clause.split()) >= 5 and not clause.startswith(("«", '"', "“")) and not _ACK_WORDING.search(clause) and not _ack_roles(clause) \
        and not _ACKISH.search(clause) and _substantive(clause)


# What every message of a brand carries at its foot: legal notices (personal data, terms, registered
# office), marketing (follow us, newsletter), helpdesk chrome ("reply above this line", "powered by").
_FOOTER = re.compile(
    r"\b(?:rgpd|gdpr|cnil|donnees (?:a caractere )?personnelles|personal (?:data|information)|privacy"
    # (a message that says it is confidential; not "pour des raisons de confidentialité", a reason given)
    r"|confidentiality (?:notice|statement|note)|(?:is|are|est|sont) (?:strictement |strictly )?confidenti\w*|avis de confidentialite"
    r"|mentions legales|conditions generales|terms (?:and|&) conditions|siege social|registered (?:office|in)|capital de"
    r"|rcs\b|company (?:number|no)|se desinscrire|desabonn\w*|unsubscribe|newsletter|follow us|suivez-nous|retrouvez-nous sur"
    r"|instagram|facebook|linkedin|tiktok|youtube|copyright|all rights reserved|tous droits reserves|powered by|propulse par"
    r"|questionnaire|survey|enquete de satisfaction|satisfaction (?:survey|client)|(?:rate|review) us|donnez-nous votre avis"
    r"|^(?:en ce moment|actuellement|right now|this week|cette semaine|ce mois-ci|this month|ne manquez pas|don't miss)\b"
    r".{0,80}(?:%|promo|offre|offer|soldes|\bsale\b)|sur tout le site|sitewide"
    r"|(?:close|fermer) (?:this|cette) (?:window|page|fenetre|tab|onglet)"
    r"|telecharge[rz]|download (?:our|the)|app store|google play|(?:our|notre) (?:app|appli|application)\b"
    r"|(?:reply|repondez|ecrivez) (?:above|au-dessus de) (?:this|cette) (?:line|ligne)|type your reply above"
    # a form's recap of what was submitted
    r"|recapitulatif|recap\b|summary of your (?:request|message|enquiry)"
    r"|(?:rappel|details?|recap\w*) (?:de|of) (?:votre|your) (?:demande|message|request|enquiry)|(?:^|; |\. )(?:objet|subject|sujet|motif|message)\s?:)")


@kept_by_text  # speed only: a pure function of one text; templates recur across a collect
def _substantive(sentence: str) -> bool:
    return _word_count(sentence) >= 4 and not _ACK_LIKE.search(sentence) and _not_only_elsewhere(sentence) \
        and not _PREMIUM.search(sentence) and not _COURTESY_ONLY.search(sentence) \
        and not (_FILLER.match(sentence) and _word_count(sentence) <= 6) and _about_the_case(sentence) \
        and not (_SELF_HELP.search(sentence) and not _AMOUNT.search(sentence)) and not _FOOTER.search(sentence)


# A sentence that names another channel or place still tells the case when enough of its words are the
# case's: "La facture corrigée est disponible dans votre espace client", "Pour résilier, rendez-vous dans
# votre espace client, rubrique Contrat" (a procedure for this customer); "Pour toute question urgente,
# appelez le 01 23 45 67 89" is only elsewhere.
ELSEWHERE_CASE_WORDS = 3


def _not_only_elsewhere(sentence: str) -> bool:
    return not _REDIRECT.search(sentence) or len(case_words(sentence)) >= ELSEWHERE_CASE_WORDS


# A sentence says something about the case when enough of its words are neither grammar nor the
# exchange's own vocabulary (mail.notice_words), or when it names an amount.
CASE_WORDS = 2
_AMOUNT = re.compile(r"\d\s?(?:€|£|\$|eur\b|euros?\b|gbp\b|usd\b)|[£$€]\s?\d")


# "Oui, c'est possible." / "No, it can't." answers the customer's question in one word.
_VERDICT = re.compile(r"^(?:oui|non|yes|no)\b(?![-'])")


def _about_the_case(sentence: str) -> bool:
    return len(case_words(sentence)) >= CASE_WORDS or bool(_AMOUNT.search(sentence)) or bool(_VERDICT.match(sentence))


# Below this many words of content besides acknowledgement sentences, a message only acknowledges.
ACK_REST_WORDS = 25
# Sentences about the case (not acknowledging, not queueing, not redirecting) need this many words
# in all to make a message an answer: "Votre colis part jeudi par Colissimo." is enough.
SUBSTANTIVE_WORDS = 4
# Out-of-office notices are short; "on leave" inside a long answer is not one.
OOF_MAX_WORDS = 120
OOF_WEAK_MAX_WORDS = 40
OOF_WEAK_CASE_WORDS = 5
# A not-monitored sentence speaks of the channel: past this many words of its own it speaks of a case.
NOTICE_CASE_WORDS = 6


def _text_kind(
    text: str,
    subject: str,
    auto_header: str,
    sent_at: datetime | None,
    received_at: datetime | None,
    says_nothing: list[bool] | None = None,
    signature: str = "",
    request: str = "",
    own_tail: str = "",
) -> Classification:
    """The kind a text gives (`signature`: the sign-off block cut from it; `own_tail`: the brand's own
    text, quotes left out, where a footer the reply splitter set aside may be; `request`: the request it
    replies to, when known); `says_nothing`, when given, is told whether the timing rule was
    reached with a text that says nothing (then only the delay decides: see classify_at_once)."""
    folded_subject = _fold(subject)
    content = _sentences(text)
    words = _words(content)
    strong = any(_OOF_WORDING.search(s) for s in content)
    # "The manager is away until Monday, so I checked myself: your deposit will be returned" answers.
    weak = any(_OOF_WEAK.search(s) and _beside_absence(s) < OOF_WEAK_CASE_WORDS for s in content)
    oof_subject = bool(_OOF_SUBJECT.match(folded_subject))
    # Absence wording inside a long answer ("je serai de retour le...") is not an OOF notice.
    if (strong and (words < OOF_MAX_WORDS or auto_header or oof_subject)) or (
        weak and (words < OOF_WEAK_MAX_WORDS or oof_subject)
    ):
        return Classification(ReplyKind.OUT_OF_OFFICE, "out-of-office wording")
    if _OOF_SUBJECT.match(folded_subject) and _OOF_WORDING.search(folded_subject):
        return Classification(ReplyKind.OUT_OF_OFFICE, "out-of-office subject")
    if words < OOF_MAX_WORDS and any(_CLOSURE.search(s) and _only_absence(s) for s in content):
        return Classification(ReplyKind.OUT_OF_OFFICE, "the service says it is closed")
    if words < OOF_MAX_WORDS and _absence_notice(content):
        return Classification(ReplyKind.OUT_OF_OFFICE, "absence notice: away or closed, with a return or another contact")
    # Nobody reads this mailbox: an automatic non-answer, even when it names another channel. Read
    # on every sentence: "Hello, this account isn't staffed." is short and opens like a greeting.
    # (a sentence with many words of its own is about the case: "trois demandes restées sans réponse")
    # A notice says nothing of a case: a text with two sentences that do (3 words of their own each) is
    # not searched for one.
    if words < OOF_MAX_WORDS and sum(len(case_words(s)) >= 3 for s in content) < 2 \
            and any(_not_monitored(f) and len(case_words(f)) < NOTICE_CASE_WORDS
                                     for f in map(_fold, re.split(r"(?<=[.!?])\s+|\n\s*\n", text))):
        _is_redirect, target = _redirect(content, text)
        return Classification(ReplyKind.AUTO_ACK, "not-monitored / no-reply notice: nobody read the request",
                              notice="not_monitored", redirect_to=target)
    role_of = {s: _ack_roles(s) for s in content}
    roles = frozenset().union(*role_of.values())
    # The sign-off block or the lines the reply splitter set aside below it may say what the message is:
    # "Service clients (message envoyé automatiquement)", "Refunds Team / (automated response)".
    # (read only where it can change the reading -- beside another role -- and when a word of it is there)
    if roles and "automatic" not in roles and _says_automatic(signature[:300] + "\n" + own_tail[-600:]):
        roles |= {"automatic"}
    # "Nous avons pris note de votre demande." alone is a curt human reply (scored, low): a
    # receipt sentence makes an acknowledgement only with a reference, a promise, an automatic
    # notice or queue information beside it.
    acknowledges = _acknowledges(roles)
    ack = [s for s in content if _ACK_WORDING.search(s) or (role_of[s] and acknowledges)]
    # Initials or a first name signing off ("^LB", "-Hugo", "/Léa") are a person's: receipt and a
    # promise to come back, so signed, are a curt human reply (scored, low). Automatic notices never
    # sign so; one that says it is automatic or carries a reference or queue information stays one.
    if ack and not roles - _WEAK_ROLES and (_PERSON_SIGNED.search(text[-60:]) or _signed_by_person(text, signature)) \
            and not any(_AUTOMATED.search(s) for s in content):
        signed, ack = True, []
    else:
        signed = False
    # "Nous avons bien reçu votre demande" also opens many human answers: what decides is
    # whether anything about this case follows it.
    substantive = [s for s in content if s not in ack and _substantive(s)]
    # (the clauses after "no need to chase us:" say why, not anything of the case)
    substantive += [c for s in ack if "waiting" not in role_of[s]
                    for c in _ACK_CLAUSE.split(s) if c != s and _case_clause(c)]
    if ack and acknowledges:
        # Inside a notice, what any customer is told -- a tip, a reminder, a question inviting
        # self-service, a list of help links -- is part of the notice, not about this case.
        substantive = [s for s in substantive if not _pointer(s)]
    if ack and request:
        # Knowing the request: beside an acknowledgement, a sentence that shares none of the request's
        # specifics and states none of its own (an amount, a yes/no, a date, an identifier) does not
        # answer it -- it is the template's ("pensez à l'application", "nos conseillers sont formés").
        asked = request_specifics(request)
        substantive = [s for s in substantive if touches_request(s, asked)]
        # ...and one that restates several of them speaks of the case, whatever role it also plays ("votre
        # appareil sous garantie est pris en charge par le fabricant"): a template names none of them.
        # (not a receipt or a reference, which echo the request's subject: "Subject: Returning order
        # 318840562 - refund request")
        substantive += [s for s in ack if s not in substantive and not _FOOTER.search(s) and not _RECAP.search(s)
                        and not role_of[s] & _ECHOING_ROLES and shared_words(s, asked) >= SHARED_CASE_WORDS]
    if _words(substantive) < SUBSTANTIVE_WORDS:
        substantive = []
    if ack and not substantive or (_ACK_SUBJECT.search(folded_subject) and not substantive):
        reason = "acknowledgement wording" + (f" and {auto_header}" if auto_header else "") + \
            (" (nothing else touches the request)" if request and any(map(_substantive, content)) else "")
        return Classification(ReplyKind.AUTO_ACK, reason, acknowledged=True)
    # Nothing above depends on timing, only this rule does (classify_at_once relies on it).
    quiet = not substantive and words <= 15
    if says_nothing is not None:
        says_nothing.append(quiet)
    if sent_at is not None and received_at is not None and received_at - sent_at < INSTANT_REPLY and quiet:
        return _instant(received_at - sent_at)
    if auto_header and not substantive:
        return Classification(ReplyKind.AUTO_ACK, f"{auto_header} and no substantive sentence")
    redirect, target = _redirect(content, text)
    if redirect:
        return Classification(
            ReplyKind.REDIRECT, "text sends the customer to another channel", redirect_to=target,
            acknowledged=bool(ack) or signed,
        )
    if signed and not substantive:
        return Classification(ReplyKind.ANSWER, "a receipt or promise signed by a person: a curt human reply",
                              acknowledged=True)
    reason = "substantive text" + (
        f" despite {auto_header} (helpdesk notification)" if auto_header else ""
    ) + (" after an acknowledgement phrase (the answer stops the clock)" if ack or signed else "")
    return Classification(ReplyKind.ANSWER, reason, acknowledged=bool(ack) or signed)


# What a request is about, to tell a template's words from an answer's (request_specifics).
_DIGITS = re.compile(r"\d{3,}")
# A sentence stating something of its own: a day said of the case, a tracking-like identifier, an
# apology for the customer's trouble (not for the wait).
_OWN_SPECIFIC = re.compile(
    r"\b(?:hier|demain|ce matin|cet apres-midi|yesterday|tomorrow|this morning|this afternoon|tonight)\b"
    r"|\b(?=[a-z]{0,4}\d)[a-z0-9]{8,}\b"
    r"|^(?:(?:bonjour|hello|hi)\W+)?(?:nous sommes |we're |we are |je suis |i'm |i am )?(?:sincerement |vraiment |so |very |truly )?"
    r"(?:desole|navre|sorry|excuse|apolog|regrett)\w*\b(?!.{0,40}\b(?:attente|delai|wait|delay|patience))"
    # a feeling on reading this customer's message (a thanks, a compliment)
    r"|\b(?:ravie?s?|heureu(?:x|se|ses)|contente?s?|touchee?s?|emue?s?) (?:de (?:lire|savoir|voir|decouvrir)|que)\b"
    r"|\b(?:delighted|glad|happy|pleased|thrilled|touched|moved) (?:to (?:hear|read|see|know|learn)|that)\b"
    r"|\b(?:quel|what an?) (?:beau|gentil|joli|adorable|lovely|kind|nice|wonderful|great)\b")


@lru_cache(maxsize=256)  # one request is read for each of its replies
def request_specifics(request: str) -> tuple[frozenset[str], frozenset[str]]:
    """The request's own words (first five letters, as mail.notice_words compares them) and numbers."""
    folded = _fold(request[:5000])
    words = frozenset(w[:5] for s in _SENTENCE_END.split(folded) for w in case_words(s))
    return words, frozenset(_DIGITS.findall(folded))


# Words of the request a sentence beside an acknowledgement restates to be about the case.
SHARED_CASE_WORDS = 3
_ECHOING_ROLES = frozenset({"receipt", "received", "reference", "automatic", "confirmation"})
_RECAP = re.compile(r"\b(?:objet|subject|sujet|motif|concerne|regarding|re)\s?:")


def shared_words(sentence: str, asked: tuple[frozenset[str], frozenset[str]]) -> int:
    return len({w[:5] for w in case_words(sentence)} & asked[0])


def touches_request(sentence: str, asked: tuple[frozenset[str], frozenset[str]]) -> bool:
    """Whether a folded sentence speaks of the request: shares one of its words or numbers, or states
    a specific of its own (an amount, a yes/no, a day, an identifier, an apology for the trouble)."""
    words, numbers = asked
    if any(w[:5] in words for w in case_words(sentence)) or not numbers.isdisjoint(_DIGITS.findall(sentence)):
        return True
    return bool(_AMOUNT.search(sentence) or _VERDICT.match(sentence) or _OWN_SPECIFIC.search(sentence))


_AUTOMATIC_HINTS = ("automat", "auto-", "generat", "genere", "généré", "bot", "virtu")


def _says_automatic(tail: str) -> bool:
    """Whether a sign-off block or footer says the message is automatic (the cheap test first: a footer is
    read for every message)."""
    low = tail.lower()
    return any(hint in low for hint in _AUTOMATIC_HINTS) and bool(_AUTOMATED.search(_fold(tail)))


def _own_tail(whole: str, quoted: str) -> str:
    """The end of a message's own text, above the history it quotes (its footer lines included)."""
    head = quoted.strip()[:60]
    cut = whole.find(head) if head else -1
    return (whole[:cut] if cut > 0 else whole)[-600:]


def _instant(delay: timedelta) -> Classification:
    seconds = int(delay.total_seconds())
    return Classification(ReplyKind.AUTO_ACK, f"arrived {seconds} s after sending and says nothing about the request")


def _exchange_oof(msg: ParsedMessage, text: str, result: Classification) -> Classification:
    """An automatic reading turned out-of-office by Exchange's automatic-reply headers."""
    exchange_oof = bool(msg.headers.get("x-auto-response-suppress")) and bool(
        msg.headers.get("auto-submitted", "").lower().startswith("auto-")
    )
    if (
        result.kind is ReplyKind.AUTO_ACK
        and exchange_oof
        and _OOF_SUBJECT.match(_fold(msg.subject))
        and not _ACK_WORDING.search(_fold(text))
    ):
        return Classification(ReplyKind.OUT_OF_OFFICE, "Exchange automatic reply headers")
    return result


def _classify(msg: ParsedMessage, sent_at: datetime | None, received_at: datetime | None,
              says_nothing: list[bool] | None = None) -> Classification:
    text = msg.reply_text or msg.text
    result = _bounce(msg)
    if result is None:
        auto = _auto_headers(msg.headers)
        result = _text_kind(text, msg.subject, auto, sent_at, received_at, says_nothing, msg.signature,
                            own_tail=_own_tail(msg.text, msg.quoted))
        result = _exchange_oof(msg, text, result)
    result.ticket_ref = extract_ticket_ref(msg.subject, msg.text) or ""
    result.language = detect_language(text)
    return result


def classify(
    msg: ParsedMessage, *, sent_at: datetime | None = None, received_at: datetime | None = None
) -> Classification:
    """Give back the Classification of a parsed e-mail (headers, wording and timing combined)."""
    return _classify(msg, sent_at, received_at)


def classify_at_once(msg: ParsedMessage) -> tuple[Classification, Classification | None]:
    """Give back (what classify() gives when `msg` arrived at once after its request, what it
    gives without timing when that differs, else None), reading the text once for both.

    Timing changes a reading in one rule only (an instant reply that says nothing), checked
    after every rule of the text: without timing, the text's reading tells whether that rule
    was reached by a text that says nothing; only then does the instant reading differ.
    """
    says_nothing: list[bool] = []
    later = _classify(msg, None, None, says_nothing)
    if not any(says_nothing):
        return later, None
    at_once = _exchange_oof(msg, msg.reply_text or msg.text, _instant(timedelta(0)))
    at_once.ticket_ref, at_once.language = later.ticket_ref, later.language
    return (at_once, later) if at_once.reason.startswith("arrived ") else (at_once, None)


def needs_request(result: Classification) -> bool:
    """Whether knowing the request may change a reading (see with_request): the caller loads it then only."""
    return result.acknowledged and result.kind in (ReplyKind.ANSWER, ReplyKind.REDIRECT)


def with_request(result: Classification, request: str, text: str, *, subject: str = "",
                 headers: dict[str, str] | None = None, signature: str = "") -> Classification:
    """The reading of a reply once its request is known (the collector, after matching it to its probe).

    Only a reply read as an answer or a redirect beside an acknowledgement can change: it is read again
    with the request, and becomes an acknowledgement when nothing besides the acknowledgement touches
    the request (see touches_request). `text` is the reply's own text, `signature` its sign-off block.
    """
    if not request or not needs_request(result):
        return result
    again = _text_kind(text, subject, _auto_headers(headers or {}), None, None, signature=signature,
                       request=request)
    if again.kind is not ReplyKind.AUTO_ACK:
        return result
    again.ticket_ref, again.language = result.ticket_ref, result.language
    return again


def classify_text(
    text: str,
    *,
    subject: str = "",
    sent_at: datetime | None = None,
    received_at: datetime | None = None,
    request: str = "",
) -> Classification:
    """Give back the Classification of a headerless reply (X, Facebook, assisted entry); `request`,
    when known, is the text the reply answers (see touches_request)."""
    reply, signature, _quoted = split_reply(text)
    body = reply or text
    folded = _fold(body[:3000])
    # The status line of a bounce ("550 5.1.1 User unknown") may be cut off with the "quoted" part.
    status_in = _fold(text[:3000])
    if _TEXT_BOUNCE.search(folded) and len(folded.split()) < 120 and (
            _STATUS.search(status_in) or _SMTP_CODE.search(status_in) or _MAIL_SYSTEM.search(folded)):
        result = Classification(ReplyKind.BOUNCE, "delivery failure wording and status or failed address in the text")
        result.language = detect_language(body)
        return result
    # API and assisted times say when a reply was posted or typed in, not how it was written:
    # timing never makes a headerless reply automatic.
    result = _text_kind(body, subject, "", None, None, signature=signature if reply else "", request=request,
                        own_tail=_own_tail(text, _quoted) if reply else "")
    result.ticket_ref = extract_ticket_ref(subject, text) or ""
    result.language = detect_language(reply or text)
    return result


_PREFIX = re.compile(
    r"^(?:re|fw|fwd|tr|aw|wg|sv|vs|antw|ref|rif|r|rep|reponse|odp|automatic reply|reponse automatique"
    r"|(?:ticket|request|demande|case) (?:received|recue?|created|creee?|updated|mise a jour))"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:-]\s*"
)
# Ticket tags anywhere: "[Ticket #4821]", "[Brand A]", "(Ticket 8812)", "Réf. : 12345-ABC".
_TAGS = re.compile(
    r"\[[^\]]{0,60}\]"
    r"|\((?:ticket|case|ref|request|demande|dossier)[^)]{0,30}\)"
    r"|\b(?:ref(?:erence)?|ticket|case|request|demande|dossier|reclamation|incident)\.?"
    r"\s*(?:n°|no\b\.?|nr\b|#|:|\s)\s*:?\s*#?\s*[\w-]*\d[\w-]*"
)
_EDGE = re.compile(r"^[\s\-–—:|,.!?;]+|[\s\-–—:|,.!?;]+$")


def normalise_subject(subject: str) -> str:
    """Give back a subject without reply/forward prefixes and ticket tags, folded for comparison."""
    text = _TAGS.sub(" ", _fold(subject or ""))
    text = re.sub(r"\s+", " ", text)
    previous = None
    while previous != text:
        previous = text
        text = _EDGE.sub("", text)
        text = _PREFIX.sub("", text)
    return text


_REF_PATTERNS = [
    re.compile(
        r"\[\s*(?:ticket|case|request|demande|dossier|incident|ref)?\s*(?:#|n°|:)\s*([A-Z0-9][\w-]{2,})\s*\]",
        re.I,
    ),
    re.compile(
        r"\b(?:ticket|request|case|demande|dossier|incident|r[ée]clamation|requ[êe]te)"
        r"\s*(?:n[°º]|no\.?|num[ée]ro|number|#|:)\s*:?\s*#?\s*([A-Z0-9][\w-]{2,})",
        re.I,
    ),
    re.compile(
        r"\bR[ée]f(?:[ée]rence)?\s*\.?\s*(?:n[°º]\s*)?:?\s*#?\s*([A-Z0-9]*\d[\w-]{2,})", re.I
    ),
    re.compile(r"\b(?:case|ticket|request)\s+#?\s*(\d{3,})\b", re.I),
    re.compile(r"\b(?:ticket|request|demande|case|dossier)\s*\(\s*#?\s*(\d{3,})\s*\)", re.I),
    re.compile(r"(?:^|[\s(])#(\d{4,})\b"),
]


def extract_ticket_ref(subject: str, text: str) -> str | None:
    """Give back the brand's ticket reference from a subject or body, or None."""
    for source in (subject or "", (text or "")[:5000]):
        source = source.replace("\u00a0", " ").replace("\u202f", " ")
        for pattern in _REF_PATTERNS:
            found = pattern.search(source)
            if found:
                return found.group(1).strip("-")
    return None


# Speed only: each pattern above first looks, with plain substring tests, for the words any of
# its matches contains (mail.prefilter derives them from the pattern itself); results are the
# patterns' own.
prefilter_namespace(globals())
