"""A class's own digits: drawings saved to a database, the teacher's review, export as MNIST, fine-tuning.

    endpoints.py their declarations (DRAWINGS), gathered by app/registry.py
    drawings_router.py  their router, made from their declarations, and its lifespan
    answers.py   their handlers, steps of their own (database work in threads), and what a save reads of its
                 body (on the loop or in a worker); the teacher's token, their error docs
    models.py    their request and response models
    guard.py     who a client is, the teacher's token and its guessers, the rate limits, the same-site check
    bulk.py      deleting many at once (a selection, the last minutes)
    store.py     saving (grouped commits) and reading the collection
    database.py  SQLite or PostgreSQL: connections, transactions, migrations (migrations.py)
    export.py    npz and IDX, streamed
    tuning.py    fine-tuning a copy of the served network on the collection
    weights_file.py  the tuned copy as a weights file

app/main.py includes drawings_router.router. The drawings import nothing of the classes, which sit above them
(answers.ClassHooks is what they ask of them).
"""
