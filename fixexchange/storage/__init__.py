"""Durable state on disk: the command journal, snapshots and the session message stores.

The layers below the server know only small interfaces (``session.store.MessageStore``,
``storage.journal.Journal``); the files are written here."""
