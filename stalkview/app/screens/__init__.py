"""The app's screens: the main view, the help screen and the jump-to-job dialog."""
