"""The console served to browsers: `synctui serve` and `synctui --headless --serve`."""
