import { runRabbitConformance } from './conformance-suite.js';

runRabbitConformance('rabbitmq');
