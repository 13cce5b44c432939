"""Ports: what the domain needs from the outside world, as protocols with their value types and errors.

`engines/` implements the engine ports (text, story, speech, embedding); `store/` implements the repositories, which
sit beside the service that uses them (`TaskRepository` in domain/tasks.py...). `app.py` picks the implementations and
wires them into the services; nothing else knows both sides.
"""
