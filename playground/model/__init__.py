"""The model's rules, pure: Seedance inputs, limits and prices, the form, run statuses."""
