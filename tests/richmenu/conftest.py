"""Rich menu tests use the emulator-backed LINE channel of the line tests and the 受信設定 page."""

from tests.line.conftest import line_channel  # noqa: F401 - fixture
from tests.residents.conftest import attribute_page  # noqa: F401 - fixture
