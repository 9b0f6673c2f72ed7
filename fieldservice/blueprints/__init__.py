"""One package per area of the app."""
