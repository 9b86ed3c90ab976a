"""Random damage to campaign files never escapes as anything but problems with a fix."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qualibench.campaign.init import init_campaign
from qualibench.campaign.loader import check_campaign


def _damage(data: bytes, ops: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, pos, chunk in ops:
        if not out:
            out.extend(chunk)
            continue
        i = pos % len(out)
        if kind == 0:
            del out[i : i + len(chunk) + 1]
        elif kind == 1:
            out[i:i] = chunk
        else:
            out[i : i + len(chunk)] = chunk
    return bytes(out)


ops = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.binary(min_size=1, max_size=12)),
               min_size=1, max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(["campaign.toml", "brands.csv", "personas.csv",
                               "scenarios/custom-loyalty-points-fr.yaml"]), damage=ops)
def test_damaged_files_give_problems_not_crashes(tmp_path_factory, target, damage):
    folder = tmp_path_factory.mktemp("fuzz")
    init_campaign(folder, brands=3, channels=("email", "webform"), force=True)
    path = folder / target
    path.write_bytes(_damage(path.read_bytes(), damage))
    spec, problems = check_campaign(folder)
    for p in problems:
        assert p.message and p.file
        if p.severity == "error":
            assert p.hint, p
    assert spec is not None or problems
