"""A per-hit field is named once: following the architecture page's recipe on a copy of the package,
a new field reaches the script through the buffer, the journal and a restart."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from service.ops.redis_process import free_port

ROOT = Path(__file__).resolve().parents[1]

PROBE_PART = """\
-- A throwaway per-visit breakdown: visits by their hit's probe value.
WRITERS[#WRITERS + 1] = function(G)
  for _, i in ipairs(G.visit_hits) do
    redis.call('HINCRBY', G.K.probe, hits.probe[i], 1)
  end
  if #G.visit_hits > 0 then
    redis.call('EXPIRE', G.K.probe, G.TTL.probe, 'NX')
  end
end
"""

WRITER = """
import json, sys
from datetime import datetime, timezone
import service
from service.ingest.recorder import BufferedRecorder
from service.model.hits import Hit
from service.model.sites import Site
from service.storage import CounterStore, Limits

url, journal, phase = sys.argv[1], sys.argv[2], sys.argv[3]
assert service.__file__.startswith(sys.argv[4]), service.__file__
store = CounterStore.from_url(url, Limits(300, 1800, 60))
recorder = BufferedRecorder(store, 0.02, 1000, journal)
if phase == "buffer":
    at = datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc)
    hits = [Hit("travinh", v, "pageview", at, "Asia/Ho_Chi_Minh", page="/a", probe=p)
            for v, p in (("v1", "zalo"), ("v1", "zalo"), ("v2", "zalo"), ("v3", "facebook"))]
    print(json.dumps([str(recorder.record(hit)) for hit in hits]))
else:
    store.put_site(Site("travinh", ("travinh.gov.vn",), "Asia/Ho_Chi_Minh"))
    print(json.dumps(recorder.replay_journal()))
recorder.close(timeout_seconds=5)
"""


def apply_recipe(package: Path) -> None:
    """The recipe's edits: the field on Hit and in SCRIPT_COLUMNS, a day key, a script part."""
    hits = package / "model" / "hits.py"
    text = hits.read_text()
    anchor = "    def local_day(self) -> date:"
    assert anchor in text and 'SCRIPT_COLUMNS = ("visitor",' in text
    text = text.replace(anchor, '    probe: str = ""\n\n' + anchor)
    assert '"os", "app")\n' in text
    text = text.replace('"os", "app")\n', '"os", "app", "probe")\n', 1)  # VISIT_FIELDS: counted once per visit
    hits.write_text(text.replace('SCRIPT_COLUMNS = ("visitor",', 'SCRIPT_COLUMNS = ("probe", "visitor",'))
    keys = package / "storage" / "keys.py"
    text = keys.read_text()
    anchor = "DAY_KEYS: tuple[DayKey, ...] = (\n"
    assert anchor in text
    keys.write_text(text.replace(anchor, anchor + '    DayKey("probe", "hash", lambda site, day: '
                                                   'f"{site_prefix(site)}:probe:{day.isoformat()}", 1),\n'))
    (package / "storage" / "lua" / "record_hits" / "50_probe.lua").write_text(PROBE_PART)


def test_a_new_field_survives_buffer_journal_restart_and_reaches_the_script(tmp_path, redis_url, redis_client):
    """Hits with a new field buffered while Redis is away, spilled at shutdown and replayed by the
    next start are counted by the new script part with their field's values."""
    copy = tmp_path / "code"
    shutil.copytree(ROOT / "service", copy / "service", ignore=shutil.ignore_patterns("__pycache__"))
    apply_recipe(copy / "service")
    journal = tmp_path / "journal"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(copy), "HOME": str(tmp_path)}
    run = lambda *args: subprocess.run([sys.executable, "-c", WRITER, *args, str(copy)], env=env, cwd=copy,  # noqa: E731
                                       capture_output=True, text=True, timeout=60)

    away = run(f"redis://127.0.0.1:{free_port()}/0", str(journal), "buffer")
    assert away.returncode == 0, away.stderr
    assert json.loads(away.stdout) == ["queued"] * 4
    spilled = list(journal.glob("journal-*.jsonl"))
    assert len(spilled) == 1 and spilled[0].read_text().count('"probe": "zalo"') == 3

    back = run(redis_url, str(journal), "replay")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout) == 4
    assert not list(journal.glob("*.jsonl"))  # written, so released
    probe = redis_client.hgetall("va:{travinh}:probe:2026-11-28")
    assert {k.decode(): int(v) for k, v in probe.items()} == {"zalo": 2, "facebook": 1}
    assert 0 < redis_client.ttl("va:{travinh}:probe:2026-11-28")
    assert int(redis_client.hget("va:{travinh}:h:2026-11", "28:v")) == 3


def test_script_columns_are_hit_fields():
    """Every column the script reads is a field of Hit (a typo would send the script an empty column)."""
    from service.model.hits import SCRIPT_COLUMNS, Hit

    assert set(SCRIPT_COLUMNS) <= set(Hit._fields)
