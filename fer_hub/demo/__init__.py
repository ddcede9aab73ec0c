"""The Gradio demo: the app, its video tab, its upload folder, and calling it over HTTP."""
