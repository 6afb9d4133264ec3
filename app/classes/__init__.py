"""Lessons with a class: a short code phones join by (or a QR code), pausing saves, a live board of
the class's drawings, and the class's own fine-tuned network handed to every phone.

    codes.py    the codes: short, without look-alike characters, and how fast they can be guessed
    store.py    the classes' table and their events, in the drawings' database (app/drawings/database.py)
    events.py   the live board: one poller per server process, fanning events out to bounded SSE streams
    join.py     the address phones open (CNN_PUBLIC_URL, the teacher's browser's, or this machine's)
    qr.py       the join address as a QR code (segno)
    models.py   request and response models
    answers.py  the endpoints' steps
    endpoints.py  their declarations (CLASSES), gathered by app/registry.py
    classes_router.py  their router and lifespan, and the phone's page at /c/{code}
"""
