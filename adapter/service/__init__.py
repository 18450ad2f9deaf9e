"""Write side: one handler per command, each taking an open unit of work."""
