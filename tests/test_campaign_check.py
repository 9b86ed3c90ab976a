"""`qualibench check` as an analyst runs it: every problem once, where it is, with the fix."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from qualibench.campaign.init import init_campaign
from tests.plugins.console import run_qb

SECRETS = {"QB_SHOPPER_PASSWORD": "pw", "QB_X_TOKEN": "tok"}
HEADER = "name,sector,country,timezone,opening_hours,email,contact_form_url,x_handle\n"


@pytest.fixture
def camp(tmp_path: Path) -> Path:
    folder = tmp_path / "c"
    init_campaign(folder, brands=4)  # what `qualibench init` writes
    return folder


def check(camp: Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_qb("check", cwd=camp, env={**SECRETS, **(env or {})})


def lines_about(run, what: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [ln for ln in run.lines if what in ln]


def test_a_duplicated_row_still_reports_its_other_problems(camp):
    (camp / "brands.csv").write_text(
        HEADER + "Acme,retail,FR,Europe/Paris,,a@acme.example,,\n"
                 "Acme,retail,FR,Mars/Olympus,,acme@,,\n")
    run = check(camp)
    assert run.returncode == 3
    row3 = lines_about(run, "row 3")
    assert any("name: duplicate brand 'Acme' (already on row 2)" in ln for ln in row3)
    assert any("timezone: unknown timezone 'Mars/Olympus'" in ln for ln in row3)
    assert any("email: 'acme@' is not an e-mail address" in ln for ln in row3)


def test_a_title_row_above_the_xlsx_header_is_one_line(camp):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Marques du baromètre 2026"])
    ws.merge_cells("A1:F1")
    ws.append(["name", "sector", "country", "timezone", "email", "contact_form_url"])
    ws.append(["Acme", "retail", "FR", "Europe/Paris", "a@acme.example", "https://acme.example/contact"])
    wb.save(camp / "brands.xlsx")
    toml = camp / "campaign.toml"
    toml.write_text(toml.read_text().replace('brands = "brands.csv"', 'brands = "brands.xlsx"'))
    run = check(camp)
    assert run.returncode == 3
    about = lines_about(run, "brands.xlsx")
    assert about == [f"{camp / 'brands.xlsx'}, row 1: row 1 above the header (found on row 2) is not part "
                     "of the table (fix: delete row 1 so that the header is the first row)"]


def test_a_placeholder_typo_is_not_also_a_missing_scenario(camp):
    scenario = camp / "scenarios" / "custom-loyalty-points-fr.yaml"
    scenario.write_text(scenario.read_text().replace("{order_number} le", "{order_numbr} le"))
    toml = camp / "campaign.toml"
    toml.write_text(toml.read_text().replace("select = [", 'select = ["custom-loyalty-points-fr", '))
    run = check(camp)
    assert run.returncode == 3
    assert any("placeholder {order_numbr} has no value" in ln for ln in run.lines)
    assert not lines_about(run, "does not exist"), run.stderr


def test_unset_secret_variables_warn_in_check_and_stop_send_and_collect(camp, tmp_path):
    run = run_qb("check", cwd=camp, env={"QB_SHOPPER_PASSWORD": "", "QB_X_TOKEN": ""})
    assert run.returncode == 0 and "OK" in run.stdout
    assert any("[accounts.shopper], password_env: the environment variable QB_SHOPPER_PASSWORD is not set"
               in ln for ln in run.lines)
    assert any("[accounts.x], token_env: the environment variable QB_X_TOKEN is not set" in ln
               for ln in run.lines)
    assert not lines_about(check(camp), "is not set")  # both set: no warning
    db = f"sqlite:///{tmp_path / 'q.sqlite'}"
    assert run_qb("--db", db, "plan", cwd=camp).returncode == 0
    for command in ("send", "collect"):
        refused = run_qb("--db", db, command, cwd=camp, env={"QB_SHOPPER_PASSWORD": "", "QB_X_TOKEN": ""})
        assert refused.returncode == 1
        assert refused.lines == [
            f"Error: {command} needs $QB_SHOPPER_PASSWORD (password of [accounts.shopper]), "
            "$QB_X_TOKEN (token of [accounts.x]), which are not set",
            "Hint: export QB_SHOPPER_PASSWORD=... QB_X_TOKEN=... in the shell that runs qualibench"]


@pytest.mark.parametrize("column, first, second", [
    ("email", "contact@group.example", "Contact@Group.example"),
    ("contact_form_url", "https://group.example/contact", "https://group.example/contact/"),
    ("x_handle", "@GroupCare", "groupcare"),
])
def test_two_brands_sharing_a_contact_point_are_flagged(camp, column, first, second):
    cells = {"email": ("a@one.example", "b@two.example"), "contact_form_url": ("", ""),
             "x_handle": ("", "")}
    cells[column] = (first, second)
    rows = [f"{name},retail,FR,Europe/Paris,,{cells['email'][i]},{cells['contact_form_url'][i]},"
            f"{cells['x_handle'][i]}" for i, name in enumerate(("One", "Two"))]
    (camp / "brands.csv").write_text(HEADER + "\n".join(rows) + "\n")
    run = check(camp)
    assert run.returncode == 3
    (line,) = lines_about(run, f"row 3, {column}:")
    assert "is also the" in line and "'One' (row 2)" in line


def test_clear_password_error_and_warning_agree(camp):
    toml = camp / "campaign.toml"
    toml.write_text(toml.read_text().replace('password_env = "QB_SHOPPER_PASSWORD"', 'password = "hunter2"'))
    run = check(camp)
    assert run.returncode == 3
    (line,) = lines_about(run, "password")
    assert line.startswith(f"{toml}, [accounts.shopper], password: a secret is written in clear")
    assert 'password_env = "QB_SHOPPER_PASSWORD"' in line and "hunter2" not in run.stderr
    toml.write_text('password = "hunter2"\n' + toml.read_text())
    (top,) = [ln for ln in check(camp).lines if ", top level, password:" in ln]
    assert 'password_env = "QB_PASSWORD"' in top


@pytest.mark.parametrize("hours, words", [
    ("mon-fri 09:00-18:00, 10:00-12:00", "on mon, 10:00-12:00 overlaps 09:00-18:00"),
    ("mon-fri 09:00-12:00; fri 11:00-14:00", "on fri, 11:00-14:00 overlaps 09:00-12:00"),
    ("mon-fri 18:00-09:00", "ends before it starts"),
])
def test_overlapping_or_inverted_opening_hours_are_refused(camp, hours, words):
    (camp / "brands.csv").write_text(HEADER + f'Acme,retail,FR,Europe/Paris,"{hours}",a@acme.example,,\n')
    run = check(camp)
    assert run.returncode == 3
    (line,) = lines_about(run, "row 2, opening_hours:")
    assert words in line
