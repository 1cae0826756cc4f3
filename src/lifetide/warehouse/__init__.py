"""The analytical store: events, orders, products and features, through Ibis."""
