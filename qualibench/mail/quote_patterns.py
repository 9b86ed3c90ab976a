"""The line shapes that mark quoted history and client or helpdesk chrome in a reply's text.

Each pattern reads one line of at most MAX_PATTERN_LINE characters (quotes.py checks the
length first), so none can take more than linear time in that line. They are read by shape
where the shape is shared across languages: an attribution is a date, a name or an address
and a verb of writing; a header block is a run of "Word :" lines with a sender among them; a
helpdesk comment header is a short author line over a date stamp.
"""

from __future__ import annotations

import re

from qualibench.mail.prefilter import prefilter_namespace

# No-break spaces (U+00A0, U+202F) precede colons in French typography and in Outlook FR.
NBSP = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\ufeff": ""})

WROTE = (r"(?:a\s+[ée]crit|wrote|writes|schrieb|escribi[óo]|ha\s+scritto|schreef|escreveu"
         r"|het\s+volgende\s+geschreven|kirjoitti|skrev|napisał)")
WROTE_WORD = re.compile(WROTE, re.IGNORECASE)
_DASHES = r"(?:-{2,}\s*)?"
ATTRIBUTION = re.compile(
    rf"^\s*{_DASHES}(?:"
    rf"(?:le|on|am|el|il\s+giorno|op|em)\s.{{4,220}}?\s{WROTE}(?:\s.{{0,80}}?)?\s*:?"
    rf"|.{{2,160}}?\s{WROTE}(?:\s+(?:am|le|on|el|il|op|em|sur|the)\s.{{0,60}}?)?\s*:"  # "Marie a écrit :"
    # Webmails that quote by the writer's name: "Quoting Marie <m@x.fr>:", "Citation de ..."
    r"|(?:quoting|zitat\s+von|citation\s+de|citando|citazione\s+di|citaat\s+van)\s.{2,160}?:"
    r")\s*(?:-{2,})?\s*$",
    re.IGNORECASE,
)
# The first words of an attribution a client may wrap over two or three lines.
ATTRIBUTION_OPENING = re.compile(
    r"^\s*(?:-+\s*)?(?:(?:le|on|am|el|il|op|em)\s|\d{4}-\d{2}-\d{2}[ T]|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}[ ,])",
    re.IGNORECASE)
# "2017-11-24 16:32 GMT+01:00 Marie <m@x.fr>:", "30/11/2026 14:02, Marie <m@x.fr> :"
DATE_FIRST = re.compile(
    r"^\s*(?:\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})[ ,T]+\d{1,2}[:h]\d{2}.{0,120}"
    r"(?:<[^<>\s@]+@[^<>\s]+>|[A-Za-zÀ-ÿ])\s*:\s*$")
# An attribution glued to the end of the reply's last line by a reflowing client: after a
# sentence's end ("Bonne journée.Le mar. 3 mars ... a écrit :"), or after any word when it opens
# with a capital and a date ("Tom On Mon, Mar 9, 2026 at 9:00 AM Sarah <s@x> wrote:").
INLINE_ATTRIBUTION = re.compile(
    # (no sentence end inside it: the attribution starts after the reply's last sentence)
    rf"(?:(?<=[.!?])\s*((?i:le|on)\s(?:(?![.!?]\s+[A-ZÀ-Ý]).){{4,220}}?\s(?i:{WROTE})\s*:?)"
    rf"|(?<=[\w)])\s+((?:Le|On)\s+(?:[A-Za-zéû]{{2,9}}\.?,?\s+){{0,2}}\d{{1,2}}\b(?:(?![.!?]\s+[A-ZÀ-Ý]).)"
    rf"{{4,200}}?\s(?i:{WROTE})\s*:?))\s*$")
# An Outlook header block that a converter folded onto one line, maybe glued after the reply:
# "... Julie De : Marie <m@x.fr> Envoyé : lundi 3 mars 2026 10:02 À : sav@b.fr Objet : Retour".
COLLAPSED_HEADERS = re.compile(
    r"(?:^\s*|(?<=\S)\s+)(\*?(?:de|from|von|da|van)\s*\*?\s*:\s*\S.{0,160}?\s\*?(?:envoy[ée](?:\s+le)?|sent"
    r"|date|gesendet|enviad[oa](?:\s+el)?|inviato|verzonden)\s*\*?\s*:\s*\S.{0,100}?\s\*?(?:[àa]|to|an|para"
    r"|aan)\s*\*?\s*:\s*\S.*)$",
    re.IGNORECASE)
SEPARATOR = re.compile(
    r"^\s*[-_=*]*\s*(?:"
    r"original\s+message|message\s+d['’]origine|forwarded\s+message|message\s+transf[ée]r[ée]"
    r"|message\s+original|mail\s+original|mail\s+d['’]origine|urspr[üu]ngliche\s+nachricht"
    r"|mensaje\s+original|messaggio\s+originale|oorspronkelijk\s+bericht|mensagem\s+original"
    r"|reply\s+above\s+this\s+line|r[ée]pondez\s+au-dessus\s+de\s+cette\s+ligne"
    r"|begin\s+forwarded\s+message\s*:|d[ée]but\s+du\s+message\s+r[ée]exp[ée]di[ée]\s*:"
    r")\s*[-_=*]*\s*$",
    re.IGNORECASE,
)
HEADER_FROM = re.compile(r"^\s*\*?(?:de|from|von|da|van|exp[ée]diteur)\s*\*?\s*:\s*\*?\s*\S",
                         re.IGNORECASE)
HEADER_ANY = re.compile(
    r"^\s*>?\s*\*?(?:de|from|von|da|van|exp[ée]diteur|envoy[ée](?:\s+le)?|sent|date|datum|[àa]|to"
    r"|objet|subject|sujet|cc|cci|bcc|copie\s+[àa]|r[ée]pondre\s+[àa]|reply-to|destinataire"
    r"|message\s+du|gesendet|an|betreff|enviad[oa](?:\s+el)?|para|asunto|inviato|data|oggetto"
    r"|verzonden|aan|onderwerp|assunto|kopie|importance|priorit[ée])\s*\*?\s*:",
    re.IGNORECASE,
)
RULE = re.compile(r"^\s*(?:_{10,}|-{10,}|={10,})\s*$")
REPLY_MARKER = re.compile(r"^\s*##-.{5,120}-##\s*$")
# A helpdesk comment header: an author line, then a date stamp alone ("30 nov. 2026 à 14:02
# CET", "5 mars 2026, 14:31 UTC+1", "5. März 2026, 14:31", "5 de marzo de 2026 14:31").
STAMP = re.compile(
    r"^\s*(?:\w+\.?,?\s+)?"
    r"(?:\d{1,2}\.?\s+(?:de\s+)?\w+\.?\s+(?:de\s+)?\d{4}|\w+\.?\s+\d{1,2},?\s+\d{4}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})"
    r",?\s+(?:(?:[àa]|at|um|om|alle|às|a\s+las|-)\s+)?\d{1,2}[:h.]\d{2}(?::\d{2})?"
    r"(?:\s*(?:[AP]M|h|Uhr|(?-i:[A-Z]{2,5})|(?:UTC|GMT)?[+-]\d{1,2}(?::?\d{2})?|\([^()]{1,40}\)))*\s*$",
    re.IGNORECASE)
# A comment's author written as a name: capitalised words only ("Julie Martin").
AUTHOR = re.compile(r"^[A-ZÀ-Ý][\w'’.-]*(?:\s+[A-ZÀ-Ý][\w'’.-]*){0,3}$")
# Lines of helpdesk and client chrome: neither the reply nor the signature.
CHROME = re.compile(
    r"^\s*(?:envoy[ée]\s+(?:de|depuis|à\s+partir\s+d[e'’])\s*(?:mon|ma|l['’]app|outlook|yahoo|\w+\s+pour)"
    r"|sent\s+(?:from|via)\s+(?:my|outlook|yahoo|mail\s+for)|sent\s+with\s+\w+\s+mail|get\s+outlook\s+for"
    r"|t[ée]l[ée]charge[rz]\s+outlook|obtenir\s+outlook\s+pour|von\s+meinem\s+\w+\s+gesendet"
    r"|provenance\s*:\s*courrier\s+pour\s+windows"
    r"|enviado\s+desde\s+mi|inviato\s+da(?:l\s+mio)?\s|verzonden\s+vanaf\s+mijn|enviado\s+do\s+meu"
    r"|ref:_\S+:ref|ticket\s+#\s*\d+\s*:|\[\s*#?[\w-]*\d[\w-]*\s*\]\s*$"
    r"|(?:ticket|r[ée]f(?:[ée]rence)?\.?|case|dossier)\s*(?:n[°o]\.?\s*|#\s*|:\s*#?)\s*[\w-]*\d[\w-]*\s*$"
    # "Your request (48213) has been updated", in any language: a request noun and its number.
    r"|(?:\w+\s+){0,2}(?:demande|request|ticket|anfrage|solicitud|richiesta|aanvraag|verzoek"
    r"|solicita[çc][ãa]o|pedido)\s+\(#?\d+\)\s+\w.{0,40}?(?:mise?\s+[àa]\s+jour|re[çc]u\s+une\s+r[ée]ponse"
    r"|updated|(?:received|got)\s+an?\s+(?:response|reply|answer)|aktualisiert|antwort\s+erhalten"
    r"|actualizad[oa]|recibido\s+una\s+respuesta|aggiornat[oa]|ricevuto\s+una\s+risposta"
    r"|bijgewerkt|beantwoord|atualizad[oa]|recebeu\s+uma\s+resposta)\b.{0,120}$"
    r"|ce\s+message\s+a\s+[ée]t[ée]\s+envoy[ée]\s+par\s+zendesk|this\s+email\s+is\s+a\s+service\s+from"
    r"|pensez\s+[àa]\s+l['’]environnement|please\s+consider\s+the\s+environment"
    # A link to the ticket or conversation, and the helpdesk's own name under the mail.
    r"|(?:ticket|demande|request|case|dossier|conversation|consultez\s+votre\s+demande|view\s+(?:your\s+)?"
    r"(?:ticket|request|case))\s*(?:#?\s*\d+\s*)?:?\s*<?https?://\S+\s*$"
    r"|[^:]{0,60}:\s*<?https?://\S*(?:ticket|request|demande|case|helpdesk|support|conversation)\S*\s*$"
    r"|(?:ticket|case|demande)\s+#?\s*\d+\s*[-–:]\s*(?:statut|status)\s*:"
    r"|we\s+run\s+on\s+\w+|powered\s+by\s+\w+(?:\s+\w+)?\s*$|propuls[ée]\s+par\s+\w+"
    # The helpdesk product signing its notification, in any language.
    r"|(?:\S+\s+){0,6}?(?:delivered|sent|envoy[ée]|gesendet|enviado|inviato|verzonden|verstuurd)"
    r"\s+(?:by|par|via|von|por|da|door)\s+(?:zendesk|freshdesk|zammad|intercom|gorgias|hubspot"
    r"|help\s*scout|kustomer|zoho\s+desk|salesforce|front)\b.{0,60}$"
    # A client's footer naming the device or app it was sent from ("Envoyé de l'iPhone de
    # Julie", "Enviado desde mi Galaxy"): a sending verb, then a device word, in a short line.
    r"|(?:envoy[ée]|sent|gesendet|enviado|inviato|verzonden|verstuurd|von\s+meinem)\s+(?:\S+\s+){0,4}?"
    r"(?:l['’])?(?:iphone|ipad|android|galaxy|samsung|smartphone|mobile|tablette|tablet|handy|m[óo]vil"
    r"|cellulare|telefoon|telem[óo]vel|huawei|xiaomi|pixel|blackberry|appareil|application|appli|app"
    r"|outlook|gmail|yahoo|webmail)\b(?:\s+\S+){0,4}\s*$"
    r"|reply\s+to\s+this\s+e-?mail\s+to\s+(?:continue|add)|r[ée]pondez\s+[àa]\s+cet?\s+(?:e-?mail|message)"
    r"\s+pour\s+(?:continuer|compl[ée]ter))",
    re.IGNORECASE,
)
DISCLAIMER = re.compile(
    r"^\s*(?:ce\s+(?:message|courriel|mail|e-mail)|le\s+pr[ée]sent\s+(?:message|courriel)"
    r"|this\s+(?:e-?mail|message)|the\s+information\s+(?:contained\s+)?in\s+this|disclaimer"
    r"|avertissement|confidentialit[ée]|avis\s+de\s+confidentialit|confidentiality\s+notice"
    r"|les\s+informations\s+contenues|le\s+contenu\s+de\s+ce|this\s+communication"
    r"|diese\s+e-?mail|diese\s+nachricht|die\s+informationen\s+in|le\s+informazioni\s+contenute"
    r"|questo\s+messaggio|este\s+(?:mensaje|correo|e-?mail)|la\s+informaci[óo]n\s+contenida"
    r"|dit\s+(?:bericht|e-?mailbericht)|de\s+informatie\s+in|esta\s+mensagem|as\s+informa[çc][õo]es"
    r"|pour\s+r[ée]pondre,?\s+utilisez).{0,300}?"
    r"(?:confidenti|vertraulich|riservat|confidencial|vertrouwelijk|destinataire|destinatari"
    r"|empf[äa]nger|geadresseerde|intended|addressee|r[ée]pondre|ne\s+pas\s+modifier"
    r"|destin[ée]e?s?\s+(?:exclusivement|uniquement|[àa]\s+l['’]usage)|privileged|exclusive\s+use)",
    re.IGNORECASE,
)
LIST_FOOTER = re.compile(
    r"^\s*(?:\S.{0,80}\s(?:mailing\s+list|liste\s+de\s+diffusion)\s*$"
    r"|you\s+received\s+this\s+message\s+because\s+you\s+are\s+subscribed"
    r"|vous\s+recevez\s+ce\s+message,?\s+car\s+vous\s+[êe]tes\s+abonn"
    r"|to\s+unsubscribe\s+from\s+this\s+(?:group|list)|pour\s+vous\s+d[ée]s(?:abonner|inscrire)\s+de\s+(?:ce\s+groupe|la\s+liste|cette\s+liste)"
    r"|you\s+are\s+subscribed\s+to|vous\s+[êe]tes\s+(?:abonn[ée]|inscrit)e?\s+[àa]\s+la\s+liste"
    # A helpdesk's notification footer: why this mail came, through what ("automatiquement" is
    # left out: an acknowledgement says so in its own words, and that is the brand's text).
    r"|vous\s+recevez\s+(?:cet?|ce)\s+(?:e-?mail|message|courriel|mail)\s+(?:car|parce\s+que|suite)"
    r"|you\s+(?:are\s+receiving|received|have\s+received)\s+this\s+(?:e-?mail|message)\s+because"
    r"|ce\s+(?:message|e-?mail|courriel|mail)\s+a\s+[ée]t[ée]\s+envoy[ée]\s+(?:par|via|depuis)\s"
    r"|this\s+(?:e-?mail|message)\s+(?:was|has\s+been)\s+sent\s+(?:by|via|from|through)\s)",
    re.IGNORECASE)
# "Message du 30/11/26 14:02" above a webmail header block (La Poste): part of the history.
MESSAGE_DU = re.compile(r"^\s*>?\s*message\s+du\s*:?\s*\d", re.IGNORECASE)
# "Reply above this line" markers at the top of a helpdesk notification, in any of the
# corpus's languages, whatever politeness comes before: the reply is below.
TOP_MARKER = re.compile(
    r"^\s*[-#=*_\s]*(?:\w+\s+){0,6}?"
    r"(?:above\s+this\s+line|au-dessus\s+de\s+cette\s+ligne|(?:über|oberhalb)\s+dieser\s+zeile"
    r"|(?:por\s+)?encima\s+de\s+esta\s+l[íi]nea|sopra\s+questa\s+(?:riga|linea)"
    r"|boven\s+deze\s+(?:regel|lijn)|acima\s+desta\s+linha)(?:\s+\w+){0,3}[-#=*_\s]*$",
    re.IGNORECASE)


# Speed only: each pattern above first looks, with plain substring tests, for the words any of
# its matches contains (mail.prefilter derives them from the pattern itself); results are the
# patterns' own.
prefilter_namespace(globals())
