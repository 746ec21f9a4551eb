"""The read side of the projections: ports the query function reads through, and the answers it gives."""
