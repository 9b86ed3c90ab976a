"""Campaign files: each kind of bad input gives one precise problem (file, row, field, fix)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from qualibench.campaign.init import init_campaign
from qualibench.campaign.loader import check_campaign, load_campaign
from qualibench.errors import InvalidInput


@pytest.fixture
def camp(tmp_path: Path) -> Path:
    folder = tmp_path / "c"
    init_campaign(folder, brands=4, channels=("email", "webform"))
    return folder


def errors(folder: Path) -> list[str]:
    _, problems = check_campaign(folder)
    return [p.line() for p in problems if p.severity == "error"]


def set_brands(folder: Path, text: str, encoding: str = "utf-8", bom: bool = False) -> None:
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    (folder / "brands.csv").write_bytes(data)


HEADER = "name,sector,country,timezone,opening_hours,email,contact_form_url\n"


def test_init_output_is_valid(camp: Path) -> None:
    spec = load_campaign(camp)
    assert len(spec.brands) == 4
    assert all("email" in b.contacts and "webform" in b.contacts for b in spec.brands)
    assert len(spec.scenarios) >= 3


def test_missing_and_misspelt_columns(camp: Path) -> None:
    set_brands(camp, "name,sectr,emial\nAcme,retail,a@acme.example\n")
    errs = errors(camp)
    assert any("unknown column 'sectr'" in e and "rename it to 'sector'" in e for e in errs)
    assert any("unknown column 'emial'" in e and "'email'" in e for e in errs)
    assert any("required column 'sector' is missing" in e for e in errs)


def test_duplicate_brand_names_the_first_row(camp: Path) -> None:
    set_brands(camp, HEADER + "Acme,retail,FR,Europe/Paris,mon-fri 09:00-18:00,a@acme.example,https://acme.example/c\n"
                     "ACME,retail,FR,Europe/Paris,mon-fri 09:00-18:00,b@acme.example,https://acme.example/c\n")
    errs = errors(camp)
    assert any("row 3" in e and "duplicate brand 'ACME' (already on row 2)" in e for e in errs)


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ("Acme,retail,FR,Europe/Paris,mon-fri 09:00-18:00,not-an-address,https://acme.example/c", "email", "is not an e-mail address"),
        ("Acme,retail,FR,Europe/Paris,mon-fri 09:00-18:00,a@acme.example,acme dot example", "contact_form_url", "is not a web address"),
        ("Acme,retail,FR,Europe/Pariss,mon-fri 09:00-18:00,a@acme.example,https://acme.example/c", "timezone", "unknown timezone 'Europe/Pariss'"),
        ("Acme,retail,FR,Europe/Paris,monday to friday 9-6,a@acme.example,https://acme.example/c", "opening_hours", "opening hours do not parse"),
        ("Acme,retail,FR,Europe/Paris,mon-fri 18:00-09:00,a@acme.example,https://acme.example/c", "opening_hours", "ends before it starts"),
    ],
)
def test_bad_brand_values(camp: Path, row: str, field: str, words: str) -> None:
    set_brands(camp, HEADER + row + "\n")
    errs = errors(camp)
    assert len(errs) == 1, errs
    assert "brands.csv, row 2, " + field in errs[0]
    assert words in errs[0]
    assert "(fix: " in errs[0]


def test_all_problems_in_one_pass(camp: Path) -> None:
    set_brands(camp, HEADER + "A,retail,FR,Nowhere/City,mon-fri 09:00-18:00,x,https://a.example\n"
                              "B,retail,FR,Europe/Paris,mon-fri 09:00-18:00,b@b.example,ftp://b\n"
                              "C,retail,FR,Europe/Paris,xx,c@c.example,https://c.example\n")
    errs = errors(camp)
    assert {e.split(",")[1].strip() for e in errs} >= {"row 2", "row 3", "row 4"}
    assert len(errs) == 4  # timezone + e-mail on row 2, URL on row 3, hours on row 4


def test_channel_listed_without_contact_point(camp: Path) -> None:
    set_brands(camp, "name,sector,email,channels\nAcme,retail,a@acme.example,\"email, x\"\n")
    errs = errors(camp)
    assert any("to be tested on x but has no contact point" in e for e in errs)


def test_windows_1252_and_semicolons_and_bom(camp: Path) -> None:
    text = "nom;secteur;e-mail;formulaire\nCrédit Épargne;banque;contact@credit.example;https://credit.example/contact\n"
    set_brands(camp, text, encoding="cp1252")
    spec = load_campaign(camp)
    assert spec.brands[0].name == "Crédit Épargne"
    set_brands(camp, text, encoding="utf-8", bom=True)
    assert load_campaign(camp).brands[0].name == "Crédit Épargne"


def _xlsx(path: Path, rows: list[list[str]], merge: str | None = None) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Marques"
    for r in rows:
        ws.append(r)
    if merge:
        ws.merge_cells(merge)
    wb.save(path)


def _use_xlsx(camp: Path) -> None:
    toml = (camp / "campaign.toml").read_text()
    (camp / "campaign.toml").write_text(toml.replace('brands = "brands.csv"', 'brands = "brands.xlsx"'))


def test_xlsx_brands(camp: Path) -> None:
    _use_xlsx(camp)
    _xlsx(camp / "brands.xlsx", [["Name", "Sector", "E-mail", "Contact form URL"],
                                 ["Acme", "retail", "a@acme.example", "https://acme.example/c"]])
    spec = load_campaign(camp)
    assert spec.brands[0].contacts == {"email": "a@acme.example", "webform": "https://acme.example/c"}


def test_xlsx_merged_cells_and_empty_sheet(camp: Path) -> None:
    _use_xlsx(camp)
    _xlsx(camp / "brands.xlsx", [["name", "sector", "email"], ["Acme", "retail", "a@acme.example"],
                                 ["Beta", "", "b@beta.example"]], merge="B2:B3")
    assert any("merged cells B2:B3" in e and "unmerge" in e for e in errors(camp))
    _xlsx(camp / "brands.xlsx", [])
    assert any("brands table is empty" in e for e in errors(camp))


def test_toml_syntax_error_names_the_line(camp: Path) -> None:
    toml = (camp / "campaign.toml").read_text().replace('name = "', 'name = ', 1)
    (camp / "campaign.toml").write_text(toml)
    errs = errors(camp)
    assert len(errs) == 1 and "TOML syntax error" in errs[0] and "line 6" in errs[0]


def test_clear_password_is_refused(camp: Path) -> None:
    toml = (camp / "campaign.toml").read_text().replace(
        'password_env = "QB_SHOPPER_PASSWORD"', 'password = "hunter2-secret"')
    (camp / "campaign.toml").write_text(toml)
    errs = errors(camp)
    assert any("secret is written in clear" in e and "password_env" in e for e in errs)
    assert not any("hunter2-secret" in e for e in errs)


def test_scenario_placeholder_without_value_and_long_x_variant(camp: Path) -> None:
    scen = camp / "scenarios" / "custom-loyalty-points-fr.yaml"
    text = scen.read_text().replace("{order_number} le mois", "{numero_client} le mois")
    text = text.replace("channels: [email, webform]", "channels: [email, x]\nshort: \"" + "x" * 290 + "\"")
    scen.write_text(text)
    errs = errors(camp)
    assert any("placeholder {numero_client} has no value" in e for e in errs)
    assert any("X variant can reach" in e and "limit 280" in e for e in errs)


def test_load_raises_invalid_input_with_every_problem(camp: Path) -> None:
    set_brands(camp, HEADER + "A,retail,FR,Nowhere/City,mon-fri 09:00-18:00,x,https://a.example\n")
    with pytest.raises(InvalidInput) as info:
        load_campaign(camp)
    assert len(info.value.problems) == 2


def test_not_enough_personas(camp: Path) -> None:
    lines = (camp / "personas.csv").read_text().splitlines()
    (camp / "personas.csv").write_text("\n".join(lines[:3]) + "\n")
    assert any("only 2 personas" in e and "no persona may write twice" in e for e in errors(camp))
