"""The Textual console: `synctui.tui.app.SyncTuiApp`, its widgets and its stylesheet."""
