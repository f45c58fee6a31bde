"""Train, calibrate, evaluate and explain PD models; ``pipelines.adapters.registry`` talks to MLflow."""
