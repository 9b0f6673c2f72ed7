"""Services: the application's adapters to the world outside its database (object storage)."""
