"""The Kafka runtime: settings (the only reader of the environment), topic names, the faust app,
Kafka clients and producers, the local broker launcher, metrics and worker processes."""
