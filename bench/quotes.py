"""Reply extraction: exact-match rates on the development and held-out corpora, with baselines.

    python bench/quotes.py [--parts dev,heldout,heldout2] [--failures]

For every case of tests/fixtures/quotes/{dev,heldout,heldout2}/ (NNN-name.eml + NNN-name.yaml), the
message is decoded once by qualibench's parser, then each extractor gives the brand's reply
from that same text: qualibench (parse_message's reply_text and signature), mail-parser-reply
and quotequail (installed with `pip install '.[bench]'`; skipped with a message if absent),
and the trivial baseline "the whole text". A reply counts when it equals the expected one
after whitespace normalisation (tests/fixtures/quotes/README.md).

The three parts are printed apart, each with both libraries beside qualibench: "dev" is what
the rules were tuned on; "heldout" was written before the first extraction change but has been
measured since (seen); "heldout2" was written afterwards by another engineer and is the fresh
out-of-sample figure. Tuning runs pass `--parts dev` so the held-out figures are not looked at
between landings.

--failures lists the development cases qualibench gets wrong. Held-out cases are only ever
counted: their texts are never printed, so they cannot be used to choose rules.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qualibench.mail.parse import ParsedMessage, parse_message  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "quotes"
# mail-parser-reply's languages that the corpus uses (it has no Portuguese).
MPR_LANGUAGES = ["fr", "en", "de", "es", "it", "nl"]


def norm(text: str | None) -> str:
    return " ".join((text or "").split())


def cases(part: str) -> list[tuple[str, ParsedMessage, dict]]:
    out = []
    for eml in sorted((CORPUS / part).glob("[0-9]*.eml")):
        label = yaml.safe_load(eml.with_suffix(".yaml").read_text(encoding="utf-8"))
        out.append((eml.stem, parse_message(eml.read_bytes()), label))
    return out


def extractors() -> dict[str, Callable[[ParsedMessage], tuple[str, str | None]]]:
    """Return name -> function(parsed message) -> (reply, signature or None if not given)."""
    found: dict[str, Callable[[ParsedMessage], tuple[str, str | None]]] = {
        "qualibench": lambda m: (m.reply_text, m.signature),
    }
    try:
        from mailparser_reply import EmailReplyParser

        parser = EmailReplyParser(languages=MPR_LANGUAGES)

        def mpr(m: ParsedMessage) -> tuple[str, str | None]:
            replies = parser.read(m.text).replies
            return (replies[0].body, replies[0].signatures) if replies else ("", "")

        found["mail-parser-reply"] = mpr
    except ImportError:
        print("mail-parser-reply not installed (pip install '.[bench]'): skipped")
    try:
        import quotequail

        def qq(m: ParsedMessage) -> tuple[str, str | None]:
            parts = quotequail.quote(m.text, quote_intro_line=True)
            return next((text for is_reply, text in parts if is_reply), ""), None

        found["quotequail"] = qq
    except ImportError:
        print("quotequail not installed (pip install '.[bench]'): skipped")
    found["whole text (baseline)"] = lambda m: (m.text, None)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--failures", action="store_true", help="list the dev cases qualibench misses")
    ap.add_argument("--parts", default="dev,heldout,heldout2",
                    help="comma-separated corpus parts to count (default: all three)")
    args = ap.parse_args()
    tools = extractors()
    names = {"dev": "dev", "heldout": "heldout (seen)", "heldout2": "heldout2 (fresh)"}
    parts: dict[str, list] = {}
    for part in args.parts.split(","):
        if part not in names:
            raise SystemExit(f"unknown part {part!r}: choose among {', '.join(names)}")
        if not (CORPUS / part).is_dir():
            print(f"{part}: tests/fixtures/quotes/{part}/ is absent: skipped")
            continue
        parts[names[part]] = cases(part)
    print("cases: " + ", ".join(f"{part} {len(items)}" for part, items in parts.items()))
    print(f"{'part':<17} {'extractor':<24} {'reply exact':>12} {'reply+signature':>16}")
    for part, items in parts.items():
        for name, extract in tools.items():
            reply_ok = both_ok = 0
            gives_signature = True
            for _stem, msg, label in items:
                try:
                    reply, signature = extract(msg)
                except Exception:  # a baseline crashing on a case counts as a miss
                    reply, signature = "", None
                ok = norm(reply) == norm(label["reply"])
                reply_ok += ok
                if signature is None:
                    gives_signature = False
                else:
                    both_ok += ok and norm(signature) == norm(label.get("signature", ""))
            n = max(len(items), 1)
            both = f"{100 * both_ok / n:15.1f}%" if gives_signature else f"{'-':>16}"
            print(f"{part:<17} {name:<24} {100 * reply_ok / n:11.1f}% {both}")
    if args.failures:
        for stem, msg, label in parts.get("dev", []):
            if norm(msg.reply_text) != norm(label["reply"]) or \
                    norm(msg.signature) != norm(label.get("signature", "")):
                print(f"\n== {stem} ({label.get('shape', '')})")
                if norm(msg.reply_text) != norm(label["reply"]):
                    print(f"-- reply got:\n{msg.reply_text}\n-- expected:\n{label['reply']}")
                else:
                    print(f"-- signature got:\n{msg.signature}\n-- expected:\n{label['signature']}")


if __name__ == "__main__":
    main()
