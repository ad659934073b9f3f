"""Deliveries tests use the 受信設定 page with fixed block ids of the residents tests."""

from tests.line.conftest import line_channel  # noqa: F401 - fixture
from tests.line.test_outbox_reliability import cluster  # noqa: F401 - fixture
from tests.residents.conftest import attribute_page  # noqa: F401 - fixture
