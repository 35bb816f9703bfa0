"""civicloop: grassroots governance platform."""
