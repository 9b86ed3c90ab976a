"""What the simulated agents actually say, per scenario, key point and sector.

Written as customer-service agents write, in each sector's own words, and deliberately not
from the rubric's lexicon or the scenarios' patterns: the demo's scores must come from the
scorer reading ordinary prose, not from a reply that echoes the scorer's own word lists.
Each key point has full answers and vague ones (the point is touched, nothing is settled);
a brand's personality decides how many points it covers and how often it stays vague.
A scenario missing from this book (a campaign's own) is answered from its key points.
"""

from __future__ import annotations

# Placeholders: {brand}, {ref} (the customer's reference, may be empty), {amount} (an amount
# quoted by the customer), {channel_word} (where the customer can follow up).
SECTOR_WORDS = {
    "fr": {
        "bank": {"team": "Service Relations Clients", "account": "votre compte courant", "app": "l'application mobile",
                 "advisor": "votre conseiller", "bill": "relevé"},
        "telecom": {"team": "Service Client", "account": "votre ligne", "app": "l'appli {brand} & Moi",
                    "advisor": "notre équipe technique", "bill": "facture"},
        "energy": {"team": "Service Clients", "account": "votre contrat d'électricité", "app": "l'espace client en ligne",
                   "advisor": "votre conseiller énergie", "bill": "facture"},
        "insurance": {"team": "Service Gestion des contrats", "account": "votre contrat", "app": "votre espace assuré",
                      "advisor": "votre gestionnaire", "bill": "échéancier"},
        "travel": {"team": "Service Relation Voyageurs", "account": "votre dossier de voyage", "app": "l'application",
                   "advisor": "notre équipe", "bill": "facture"},
        "retail": {"team": "Service Client", "account": "votre compte fidélité", "app": "le site",
                   "advisor": "notre équipe", "bill": "facture"},
        "e-commerce": {"team": "Service Client", "account": "votre compte", "app": "le site et l'appli",
                       "advisor": "notre équipe", "bill": "facture"},
    },
    "en": {
        "bank": {"team": "Customer Relations", "product": "current account package", "bill": "statement"},
        "telecom": {"team": "Customer Care", "product": "plan", "bill": "bill"},
        "energy": {"team": "Customer Service", "product": "tariff", "bill": "bill"},
        "insurance": {"team": "Policy Services", "product": "cover", "bill": "schedule"},
        "travel": {"team": "Guest Services", "product": "membership", "bill": "invoice"},
        "retail": {"team": "Customer Service", "product": "membership", "bill": "invoice"},
        "e-commerce": {"team": "Customer Support", "product": "delivery pass", "bill": "invoice"},
    },
}

BOOK: dict[str, dict] = {
    "billing-wrong-invoice-fr": {
        "restate": [
            "Vous constatez sur votre {bill} un montant de {amount} qui ne correspond pas à ce que vous payez d'habitude, "
            "avec des frais de service comptés deux fois.",
            "J'ai bien noté que le montant prélevé ce mois-ci ({amount}) est plus élevé que prévu.",
            "Vous nous indiquez que des frais ont été ajoutés deux fois sur votre dernier {bill}.",
        ],
        "points": {
            "acknowledge-error": {
                "full": ["Après contrôle de {account}, les frais de service ont effectivement été appliqués à deux reprises "
                         "suite à un incident de notre système de facturation.",
                         "J'ai repris le détail de votre {bill} : la ligne de frais en trop vient d'un traitement en double "
                         "de notre côté, vous n'y êtes pour rien.",
                         "Vous avez raison, le montant n'est pas le bon : une option a été ajoutée par erreur lors du "
                         "dernier changement de tarif."],
                "vague": ["Nous allons regarder votre {bill} de plus près.",
                          "Votre demande a été transmise au service facturation qui l'étudiera."],
            },
            "refund-difference": {
                "full": ["La somme perçue en trop sera recréditée sur {account} sous 5 jours ouvrés.",
                         "Je viens de lancer le remboursement de la différence : il apparaîtra sur votre compte bancaire "
                         "d'ici une semaine.",
                         "Un avoir du montant trop perçu est déjà enregistré et sera déduit de votre prochain prélèvement."],
                "vague": ["Si une erreur est confirmée, une régularisation pourra être envisagée.",
                          "Le service compétent vous indiquera les suites à donner."],
            },
            "next-invoice": {
                "full": ["J'ai supprimé l'option de votre dossier, le mois prochain vous serez prélevé du montant habituel.",
                         "Votre prochain {bill} reviendra au montant normal, j'y ai veillé.",
                         "Le paramétrage est corrigé : vous ne verrez plus ces frais à partir du mois prochain."],
                "vague": ["Normalement, la situation devrait rentrer dans l'ordre."],
            },
            "apology": {
                "full": ["Toutes nos excuses pour ce désagrément.", "Je suis navrée pour ce contretemps.",
                         "Veuillez nous excuser pour cette erreur."],
                "vague": ["Nous comprenons que cela puisse surprendre."],
            },
        },
    },
    "technical-login-fr": {
        "restate": [
            "Vous ne parvenez plus à accéder à votre espace client et le lien pour changer de mot de passe ne vous "
            "parvient pas.",
            "Je comprends que la connexion à votre compte échoue malgré plusieurs essais depuis deux appareils.",
        ],
        "points": {
            "reset-password": {
                "full": ["Je vous ai adressé à l'instant un lien valable 24 h pour choisir un mot de passe ; pensez à "
                         "l'ouvrir depuis le même appareil.",
                         "Vous pouvez aussi passer par {app}, rubrique « Mot de passe oublié », qui envoie un code par SMS.",
                         "J'ai généré un code d'accès temporaire, envoyé par SMS au numéro de votre dossier."],
                "vague": ["Vous pouvez essayer de nouveau la procédure en ligne.",
                          "Nous vous invitons à consulter notre aide en ligne, rubrique connexion."],
            },
            "account-check": {
                "full": ["Après trois essais infructueux, l'accès à {account} se verrouille par sécurité : c'était votre "
                         "cas, je l'ai déverrouillé.",
                         "L'adresse enregistrée sur votre dossier comportait une faute de frappe, je l'ai corrigée avec "
                         "celle de votre message.",
                         "J'ai contrôlé votre dossier : l'adresse de connexion est bien la bonne, mais les messages "
                         "étaient rejetés par votre messagerie."],
                "vague": ["Votre compte semble actif de notre côté."],
            },
            "fix-or-escalate": {
                "full": ["Un incident a touché nos envois d'e-mails mardi ; il est corrigé depuis ce matin.",
                         "J'ai ouvert une demande auprès de {advisor}, qui reviendra vers vous sous 48 h si le souci persiste.",
                         "Tout fonctionne à nouveau, je viens de tester la connexion avec vous."],
                "vague": ["Si le problème persiste, n'hésitez pas à nous recontacter."],
            },
            "invoice-alternative": {
                "full": ["En attendant, je vous joins votre dernière facture au format PDF.",
                         "Je vous envoie par courrier électronique une copie de la facture dont vous avez besoin.",
                         "Votre facture est aussi disponible dans {app}, onglet « Documents »."],
                "vague": ["Vos documents restent consultables une fois connecté."],
            },
        },
    },
    "commercial-pricing-subscription-en": {
        "restate": [
            "You are thinking of joining and would like to know how the monthly price and the contract work first.",
            "Before you sign up, you want to be sure of the price, the commitment and any extra costs.",
        ],
        "points": {
            "price-duration": {
                "full": ["The monthly price you saw stays the same for as long as you keep your {product}; we do not "
                         "raise it after a few months.",
                         "The advertised price applies for the first six months, then it moves to the standard rate of "
                         "£5 more a month.",
                         "What you see on the website is our everyday price, not a launch offer."],
                "vague": ["Prices are reviewed from time to time in line with our terms."],
            },
            "commitment": {
                "full": ["There is a 12-month minimum term; if you leave earlier, the remaining months are charged.",
                         "You can stop at the end of any month with 30 days' notice, nothing else to pay.",
                         "You are free to leave whenever you like; simply tell us a month ahead."],
                "vague": ["Full details are in our terms and conditions on the website."],
            },
            "setup-fees": {
                "full": ["Nothing is charged when you join, and there is nothing else to pay upfront.",
                         "A single £25 fee applies when you join, which covers the set-up."],
                "vague": ["Any applicable charges are shown during checkout."],
            },
            "annual-discount": {
                "full": ["If you pay for the year upfront, you get two months free.",
                         "We offer 10% off when you pay once a year instead of monthly.",
                         "We don't offer a yearly payment option at the moment, sorry."],
                "vague": ["Offers change regularly, so keep an eye on our website."],
            },
        },
    },
}

# How agents open and close, by tone; {name} the customer's first name.
FRAMES = {
    "fr": {
        "hello": ["Bonjour {name},", "Madame, Monsieur,", "Bonjour,"],
        "thanks": ["Merci pour votre message.", "Je vous remercie de nous avoir écrit.",
                   "Nous avons bien reçu votre demande et je vous en remercie."],
        "empathy": ["Je comprends tout à fait votre agacement.", "Je mesure la gêne que cela vous cause.",
                    "C'est effectivement très contrariant, et je m'en excuse."],
        "cold": ["Dossier traité.", "Votre demande est close."],
        "closing": ["Je reste disponible si besoin.", "N'hésitez pas à revenir vers nous si quelque chose n'est pas clair.",
                    "Belle journée à vous."],
        "bye": ["Cordialement,", "Bien à vous,", "Très cordialement,"],
        "offtopic": ["Profitez en ce moment de nos offres de printemps sur le site !",
                     "Saviez-vous que notre application vous permet de tout gérer en quelques clics ?"],
        "template": ["Pour toute question relative à votre dossier, nous vous invitons à consulter notre rubrique d'aide "
                     "en ligne, où vous trouverez les réponses aux questions les plus fréquentes."],
    },
    "en": {
        "hello": ["Hi {name},", "Dear {name},", "Hello,"],
        "thanks": ["Thanks for getting in touch.", "Thank you for your message.", "Thanks for your interest in {brand}."],
        "empathy": ["I completely understand wanting to be sure before you commit.",
                    "That's a fair question, and I'm happy to help."],
        "cold": ["Please refer to our website.", "Request handled."],
        "closing": ["Let me know if there's anything else.", "I hope this helps.", "Have a lovely day."],
        "bye": ["Best wishes,", "Kind regards,", "Many thanks,"],
        "offtopic": ["Don't miss our spring offers on the website!", "Why not download our app to manage everything?"],
        "template": ["For questions about our products, please visit our Help Centre, where you will find answers to "
                     "the most common questions."],
    },
}

# X: what a community manager posts in public (short, first name, an emoji now and then,
# a move to private messages, initials as signature).
TWEETS = {
    "fr": {
        "open": ["Bonjour {name} !", "Hello {name} 👋", "Bonjour !"],
        "sorry": ["Navrés pour ce souci 😕", "Désolés pour la gêne !", "Mince, ce n'est pas normal."],
        "dm": ["Pouvez-vous nous écrire en MP avec votre n° client ? On regarde ça.",
               "On passe en message privé pour vérifier votre dossier ?", "Suivez-nous, on vous répond en privé 📩"],
        "sign": ["^{initials}", "— {first}", ""],
    },
    "en": {
        "open": ["Hi {name}!", "Hey {name} 👋", "Hello!"],
        "sorry": ["Happy to help 🙂", "Great question!", ""],
        "dm": ["Drop us a DM and we'll go through the details.", "Send us a DM if you'd like us to check anything.",
               "Follow us and we'll DM you 📩"],
        "sign": ["^{initials}", "— {first}", ""],
    },
}
