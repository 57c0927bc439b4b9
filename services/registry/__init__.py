"""Registry: users, profiles, the member-organisation read path and the data subject's rights."""
