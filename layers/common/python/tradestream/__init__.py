"""TradeStream's shared layer: domain, contracts, adapters and the API edge used by every function."""
