"""The Textual screens: the five main screens (Buckets, Deployments, Playground, Metrics,
Profiles and tokens), their dialogs and forms. Screens call the services (storage, cluster,
traffic, metrics, secrets) from workers and show their errors as dialogs or notifications;
their styles are the ``.tcss`` files of ``styles/`` (see :func:`tirui.locations.styles_dir`)."""
