"""The Gradio app's parts: the page, its handlers and the API endpoints; ``app.py`` wires them."""
