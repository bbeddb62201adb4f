"""The runtime checks of tests/compat/check_runtime.py, under pytest.

CI runs the suite once more in virtualenvs with the lowest and the highest
declared protobuf and grpcio, and once with protobuf's pure-Python backend
(scripts/compat-matrix.sh); this module makes those runs cover messages
(round trips, pickling, json/text formats, private pool) as well as calls.
"""

from __future__ import annotations

import sys
from pathlib import Path

from etcdgen.testing import EtcdServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compat"))
import check_runtime


def test_messages_and_calls_on_this_protobuf_and_grpcio(etcd: EtcdServer) -> None:
    assert check_runtime.main(["check_runtime", etcd.endpoint]) == 0
