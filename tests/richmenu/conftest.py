"""Rich menu tests use the emulator-backed LINE channel of the line tests."""

from tests.line.conftest import line_channel  # noqa: F401 - fixture
