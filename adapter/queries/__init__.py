"""Read side: queries over the store that return plain data, never write."""
