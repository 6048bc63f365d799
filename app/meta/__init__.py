"""What a client needs to show the API to people: the labels of every enum value."""
