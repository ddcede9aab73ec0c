"""The Gradio demo: the app, its video tab, its upload folder, and calling it over HTTP. It comes with the `demo`
extra: importing this package without gradio installed is a FerHubError that names the extra."""

from ..optional import require_installed

require_installed("gradio", "demo", "the demo")
