"""Metrics are made when a process starts using them, whatever was imported before.

Each case runs in a fresh interpreter: which value class prometheus_client uses is
process-wide state.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO,
        env={**{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}, **env},
    )
    return result.stdout


def test_shared_metrics_work_when_prometheus_was_imported_first(tmp_path: Path) -> None:
    count = """
        from pathlib import Path
        import prometheus_client  # first, with no PROMETHEUS_MULTIPROC_DIR set
        from redirector import metrics
        metrics.share_in(Path({folder!r}))
        metrics.instruments().requests.labels("click", "302").inc({n})
        print(metrics.exposition().decode())
    """
    run_python(count.format(folder=str(tmp_path), n=2), {})
    out = run_python(count.format(folder=str(tmp_path), n=3), {})
    assert 'trackway_requests_total{route="click",status="302"} 5.0' in out  # both processes
    assert list(tmp_path.glob("*.db"))


def test_without_sharing_the_values_stay_in_memory(tmp_path: Path) -> None:
    out = run_python(
        """
        from redirector import metrics
        metrics.instruments().requests.labels("open", "200").inc()
        print(metrics.exposition().decode())
        """,
        {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},  # set, but this process never shares
    )
    assert 'trackway_requests_total{route="open",status="200"} 1.0' in out
    assert list(tmp_path.iterdir()) == []
