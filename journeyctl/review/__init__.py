"""Review of changes before merge: what an edit does to the flow, the copy and the timing."""
