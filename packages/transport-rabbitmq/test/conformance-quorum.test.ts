import { runRabbitConformance } from './conformance-suite.js';

// Every case of the kit on replicated quorum queues (their capability profile: no priority, no maxsize).
runRabbitConformance('rabbitmq (quorum queues)', { queueType: 'quorum' }, { gracefulRestart: true });
