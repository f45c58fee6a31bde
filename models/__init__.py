"""Train, calibrate, evaluate and explain PD models; ``models.registry`` talks to MLflow."""
