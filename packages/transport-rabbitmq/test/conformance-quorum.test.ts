import { runRabbitConformance } from './conformance-suite.js';

// Every case of the kit on replicated quorum queues (their capabilities: no priorities).
runRabbitConformance('rabbitmq (quorum queues)', { queueType: 'quorum' });
