"""Every count in the rate-limit store goes under the key prefix Flask-Limiter's decorators use."""

from __future__ import annotations

from ov import create_app
from ov.extensions import limiter
from ov.rate_limits import _keys
from tests.conftest import settings_for


def test_counts_taken_by_hand_go_under_the_decorators_prefix(app, tmp_path):
    decorators = limiter._key_prefix  # what the decorators count under (set by init_app)
    assert decorators
    other = create_app({**settings_for(tmp_path), "RATELIMIT_KEY_PREFIX": "otro-prefijo"})
    with other.app_context():
        assert _keys("registro-borrador:abc") == [decorators, "registro-borrador:abc"]
