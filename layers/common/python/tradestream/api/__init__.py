"""The HTTP edge shared by the API functions: one resolver, problem JSON, request ids, the caller."""
