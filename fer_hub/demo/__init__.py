"""The Gradio demo: the app, its video tab, its upload folder, and calling it over HTTP. The app comes with the
`demo` extra: importing `fer_hub.demo.app` without gradio installed is a FerHubError that names the extra."""
