module github.com/warrenmq/warren

go 1.26

require (
	github.com/hashicorp/go-sockaddr v1.0.7
	github.com/hashicorp/yamux v0.1.2
	github.com/rabbitmq/amqp091-go v1.16.0
	go.etcd.io/bbolt v1.4.3
	go.uber.org/zap v1.28.0
)

require (
	github.com/stretchr/testify v1.11.1 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	golang.org/x/sync v0.17.0 // indirect
	golang.org/x/sys v0.38.0 // indirect
)
