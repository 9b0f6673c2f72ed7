"""Development and test helpers; never imported by the running application."""
