"""A fake brand web site on loopback: realistic contact forms for the tests and the demo world.

Each brand lives under its own path prefix, `/<brand>/`, with a home page linking to
`/<brand>/contact`. The kind of form a brand serves is chosen with `add_brand` (or, for a brand
not added, from its slug when it names a kind, so tests can use `/captcha/contact` directly).
Accepted submissions are kept in `submissions` and passed to `on_submission`, which the demo uses
to make the simulated brand answer by e-mail.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

FORM_KINDS = (
    "standard",  # CSRF token + cookie, honeypot, civility, topic select, consent; 303 to a thanks page
    "english",  # the same in English
    "multistep",  # identity first, then topic and message
    "multipart",  # enctype multipart/form-data
    "captcha",  # reCAPTCHA widget: a person must send it
    "jsonly",  # the form is built by a script
    "login",  # contact only after signing in
    "customer",  # a mandatory customer number
    "refuse",  # answers with the brand's error message
    "silent",  # answers with a page that confirms nothing
    "broken",  # answers 500
)

TOPICS_FR = [("", "-- Choisissez un motif --"), ("commande", "Suivi de commande"),
             ("livraison", "Livraison"), ("reclamation", "Réclamation"),
             ("produit", "Question sur un produit"), ("technique", "Problème technique"),
             ("autre", "Autre demande")]
TOPICS_EN = [("", "-- Choose a topic --"), ("order", "Order tracking"), ("delivery", "Delivery"),
             ("complaint", "Complaint"), ("product", "Product question"),
             ("technical", "Technical problem"), ("other", "Other")]


@dataclass
class Submission:
    """One message the site accepted."""

    brand: str
    fields: dict[str, str]
    at: datetime
    email: str = ""
    message: str = ""


@dataclass
class _BrandState:
    kind: str = "standard"
    name: str = ""
    reached: list[str] = field(default_factory=list)


def _page(title: str, body: str, lang: str = "fr") -> bytes:
    return (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><header><a href='./'>Accueil</a></header><main>{body}</main>"
            f"</body></html>").encode()


def _select(name: str, label: str, options: list[tuple[str, str]], ident: str, required: bool = True) -> str:
    opts = "".join(f"<option value='{v}'>{html.escape(t)}</option>" for v, t in options)
    req = " required" if required else ""
    return f"<label for='{ident}'>{label}</label><select id='{ident}' name='{name}'{req}>{opts}</select>"


def _input(name: str, label: str, ident: str, kind: str = "text", required: bool = True,
           placeholder: str = "") -> str:
    req = " required" if required else ""
    ph = f" placeholder='{html.escape(placeholder)}'" if placeholder else ""
    return (f"<p><label for='{ident}'>{label}</label>"
            f"<input type='{kind}' id='{ident}' name='{name}'{ph}{req}></p>")


class BrandSite:
    """A threaded HTTP server on 127.0.0.1 serving every brand's home and contact pages."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 on_submission: Callable[[Submission], None] | None = None,
                 clock: object | None = None) -> None:
        self.brands: dict[str, _BrandState] = {}
        self.submissions: list[Submission] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) as received
        self.on_submission = on_submission
        self.clock = clock
        self._sessions: dict[str, str] = {}  # session cookie -> CSRF token
        self._lock = threading.Lock()
        site = self

        class Handler(_Handler):
            pass

        Handler.site = site
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_brand(self, slug: str, kind: str = "standard", name: str = "") -> str:
        """Serve `slug` with a form of `kind`; return its home page URL."""
        if kind not in FORM_KINDS:
            raise ValueError(f"unknown form kind {kind!r}; choose one of {', '.join(FORM_KINDS)}")
        self.brands[slug] = _BrandState(kind=kind, name=name or slug.title())
        return self.home_url(slug)

    def home_url(self, slug: str) -> str:
        return f"{self.base_url}/{slug}/"

    def contact_url(self, slug: str) -> str:
        return f"{self.base_url}/{slug}/contact"

    def start(self) -> BrandSite:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="brand-site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> BrandSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)  # type: ignore[attr-defined]

    def brand(self, slug: str) -> _BrandState:
        if slug not in self.brands:
            self.brands[slug] = _BrandState(kind=slug if slug in FORM_KINDS else "standard",
                                            name=slug.title())
        return self.brands[slug]

    def new_session(self) -> tuple[str, str]:
        sid, token = secrets.token_hex(12), secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[sid] = token
        return sid, token

    def token_of(self, sid: str) -> str | None:
        with self._lock:
            return self._sessions.get(sid)

    def accept(self, slug: str, fields: dict[str, str]) -> None:
        email = next((v for k, v in fields.items() if "mail" in k.lower() and "@" in v), "")
        sub = Submission(brand=slug, fields=dict(fields), at=self.now(), email=email,
                         message=fields.get("message", "") or fields.get("body", ""))
        with self._lock:
            self.submissions.append(sub)
        if self.on_submission is not None:
            self.on_submission(sub)

    # -- pages ---------------------------------------------------------------------------

    def contact_form(self, slug: str, token: str, action: str = "contact") -> str:
        kind = self.brand(slug).kind
        csrf = f"<input type='hidden' name='csrf_token' value='{token}'>"
        honeypot = ("<div style='display:none'><label for='website'>Site web</label>"
                    "<input type='text' id='website' name='website' tabindex='-1' autocomplete='off'></div>")
        if kind == "english":
            return (f"<h1>Contact us</h1><form method='post' action='{action}'>{csrf}{honeypot}"
                    + _select("salutation", "Title", [("", "--"), ("mr", "Mr"), ("ms", "Ms")], "t")
                    + _input("first_name", "First name", "fn") + _input("last_name", "Last name", "ln")
                    + _input("email", "Email address", "em", "email")
                    + _input("phone", "Phone", "ph", "tel", required=False)
                    + _select("topic", "Topic", TOPICS_EN, "tp")
                    + _input("order_ref", "Order number", "or", required=False)
                    + "<p><label for='msg'>Your message</label><textarea id='msg' name='message' required></textarea></p>"
                    + "<p><input type='checkbox' id='nl' name='newsletter' value='yes'><label for='nl'>Send me offers</label></p>"
                    + "<p><input type='checkbox' id='ok' name='privacy' value='1' required><label for='ok'>I agree to the privacy policy</label></p>"
                    + "<button type='submit'>Send</button></form>")
        if kind == "multistep" and action == "contact/step2":
            return (f"<h1>Nous contacter — étape 2/2</h1><form method='post' action='{action}'>{csrf}"
                    "<input type='hidden' name='step' value='2'>"
                    + _select("motif", "Motif de votre demande", TOPICS_FR, "mo")
                    + "<p><label for='msg'>Votre message</label><textarea id='msg' name='message' required></textarea></p>"
                    + "<p><input type='checkbox' id='rgpd' name='rgpd' value='1' required><label for='rgpd'>J'accepte le traitement de mes données personnelles</label></p>"
                    + "<button type='submit'>Envoyer</button></form>")
        if kind == "multistep":
            return (f"<h1>Nous contacter — étape 1/2</h1><form method='post' action='contact'>{csrf}"
                    "<input type='hidden' name='step' value='1'>"
                    + _input("prenom", "Prénom", "pr") + _input("nom", "Nom", "nm")
                    + _input("courriel", "Adresse e-mail", "em", "text", placeholder="vous@exemple.fr")
                    + "<button type='submit'>Suivant</button></form>")
        enctype = " enctype='multipart/form-data'" if kind == "multipart" else ""
        extra = ""
        if kind == "captcha":
            extra = "<div class='g-recaptcha' data-sitekey='6Lc-fake'></div>"
        if kind == "customer":
            extra = _input("num_client", "Numéro client", "nc")
        return (f"<h1>Nous contacter</h1><form method='post' action='{action}'{enctype}>{csrf}{honeypot}"
                + _select("civilite", "Civilité", [("", "--"), ("mme", "Madame"), ("m", "Monsieur")], "ci")
                + _input("prenom", "Prénom", "pr") + _input("nom", "Nom", "nm")
                + _input("email", "Adresse e-mail", "em", "email")
                + _input("telephone", "Téléphone", "te", "tel", required=False)
                + extra
                + _select("objet", "Objet de votre demande", TOPICS_FR, "ob")
                + _input("num_commande", "Numéro de commande", "nco", required=False,
                         placeholder="CMD-000000")
                + "<p><label for='msg'>Votre message</label><textarea id='msg' name='message' required></textarea></p>"
                + "<p><input type='checkbox' id='nl' name='newsletter' value='oui'><label for='nl'>Je souhaite recevoir les offres</label></p>"
                + "<p><input type='checkbox' id='rgpd' name='consentement' value='1' required><label for='rgpd'>J'accepte la politique de confidentialité</label></p>"
                + extra_after(kind) + "<button type='submit'>Envoyer</button></form>")


def extra_after(kind: str) -> str:
    return "<script src='https://www.google.com/recaptcha/api.js'></script>" if kind == "captcha" else ""


class _Handler(BaseHTTPRequestHandler):
    site: BrandSite
    protocol_version = "HTTP/1.1"
    # http.server writes headers and body apart: without TCP_NODELAY, Nagle holds the body
    # ~40 ms for the client's delayed ACK, on every response of a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # quiet in tests
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _sid(self) -> str | None:
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        return cookie["sid"].value if "sid" in cookie else None

    def _route(self) -> tuple[str, str]:
        parts = urlsplit(self.path).path.strip("/").split("/", 1)
        return parts[0], (parts[1] if len(parts) > 1 else "")

    def do_GET(self) -> None:
        slug, rest = self._route()
        self.site.requests.append(("GET", self.path))
        if not slug:
            self._send(404, _page("Introuvable", "<p>Page introuvable</p>"))
            return
        state = self.site.brand(slug)
        if rest == "":
            body = (f"<h1>{html.escape(state.name)}</h1><nav><a href='produits'>Produits</a> "
                    f"<a href='aide'>Aide et contact</a></nav><p>Bienvenue !</p>")
            self._send(200, _page(state.name, body))
        elif rest == "aide":
            self._send(200, _page("Aide", "<h1>Aide</h1><p>Questions fréquentes…</p>"
                                  "<a href='contact'>Nous contacter</a>"))
        elif rest == "produits":
            self._send(200, _page("Produits", "<h1>Produits</h1><form action='recherche'>"
                                  "<input name='q' placeholder='Rechercher'></form>"))
        elif rest == "contact":
            self._contact_get(slug, state.kind)
        elif rest == "merci":
            self._send(200, _page("Merci", "<div class='alert alert-success'>Merci, votre message a "
                                  "bien été envoyé. Nous reviendrons vers vous rapidement.</div>"))
        elif rest == "thanks":
            self._send(200, _page("Thanks", "<h1>Thank you!</h1><p>Your message has been sent. "
                                  "We will get back to you within 48 hours.</p>", "en"))
        else:
            self._send(404, _page("Introuvable", "<p>Page introuvable</p>"))

    def _contact_get(self, slug: str, kind: str) -> None:
        if kind == "jsonly":
            # The form exists only once the script has run (a browser sees it, an HTML parser not).
            sid, token = self.site.new_session()
            markup = json.dumps(self.site.contact_form(slug, token)).replace("</", "<\\/")
            body = ("<div id='app' data-form='contact'></div><noscript>Activez JavaScript pour "
                    f"nous contacter.</noscript><script>document.getElementById('app').innerHTML="
                    f"{markup};</script>")
            self._send(200, _page("Contact", body), {"Set-Cookie": f"sid={sid}; Path=/; HttpOnly"})
            return
        if kind == "login":
            body = ("<h1>Espace client</h1><p>Connectez-vous pour contacter notre service client.</p>"
                    "<form method='post' action='login'><input name='login' placeholder='Identifiant'>"
                    "<input type='password' name='password'><button>Se connecter</button></form>")
            self._send(200, _page("Connexion", body))
            return
        sid, token = self.site.new_session()
        self._send(200, _page("Contact", self.site.contact_form(slug, token)),
                   {"Set-Cookie": f"sid={sid}; Path=/; HttpOnly"})

    def _form_data(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            msg = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
            out: dict[str, str] = {}
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name:
                    # Browsers send form parts without a charset: they are in the page's (UTF-8).
                    payload = part.get_payload(decode=True) or b""
                    out[str(name)] = payload.decode(part.get_content_charset() or "utf-8", "replace")
            return out
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))

    def do_POST(self) -> None:
        slug, rest = self._route()
        self.site.requests.append(("POST", self.path))
        state = self.site.brand(slug)
        data = self._form_data()
        kind = state.kind
        if kind == "broken":
            self._send(500, _page("Erreur 500", "<h1>Internal Server Error</h1>"))
            return
        sid = self._sid()
        token = self.site.token_of(sid) if sid else None
        problems: list[str] = []
        if token is None or data.get("csrf_token") != token:
            problems.append("Votre session a expiré, veuillez recharger la page.")
        if data.get("website"):
            # a bot filled the honeypot: pretend success, keep nothing (what real sites do)
            self._send(200, _page("Merci", "<p>Merci.</p>"))
            return
        if kind == "multistep" and rest == "contact" and not problems:
            state.reached.append(data.get("courriel", ""))
            self._send(200, _page("Contact", self.site.contact_form(slug, token or "", "contact/step2")))
            return
        if kind == "multistep":
            first = state.reached[-1] if state.reached else ""
            data = {**data, "courriel": first}
        email = data.get("email") or data.get("courriel") or ""
        if "@" not in email:
            problems.append("Le champ e-mail est obligatoire.")
        if not (data.get("consentement") or data.get("privacy") or data.get("rgpd")):
            problems.append("Vous devez accepter la politique de confidentialité.")
        if not data.get("message", "").strip():
            problems.append("Le champ message est obligatoire.")
        if kind == "customer" and not data.get("num_client", "").strip():
            problems.append("Le numéro client est obligatoire.")
        if kind == "refuse" and not problems:
            problems.append("Une erreur est survenue : votre demande n'a pas pu être traitée. "
                            "Veuillez réessayer plus tard.")
        if problems:
            errors = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
            self._send(200, _page("Contact", f"<div class='alert alert-danger' role='alert'><ul>{errors}</ul></div>"
                                  + self.site.contact_form(slug, token or "")))
            return
        self.site.accept(slug, data)
        if kind == "silent":
            self._send(200, _page(state.name, f"<h1>{html.escape(state.name)}</h1><p>Bienvenue !</p>"))
            return
        target = "thanks" if kind == "english" else "merci"
        self._send(303, b"", {"Location": f"/{slug}/{target}"})
