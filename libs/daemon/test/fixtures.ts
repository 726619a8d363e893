import { Type } from '@sinclair/typebox';
import { section } from '../src/index';

export const schema = section({
  logLevel: Type.String({ default: 'silent', description: 'log level' }),
  dataDir: Type.String({ default: '.data', minLength: 1, description: 'data directory' }),
  server: section({
    port: Type.Integer({ default: 8080, minimum: 0, maximum: 65535, description: 'listen port' }),
    tls: Type.Boolean({ default: false, description: 'serve TLS' }),
    advertise: Type.Array(Type.String(), { default: ['127.0.0.1'], description: 'addresses' }),
  }),
  labels: Type.Record(Type.String(), Type.String(), { default: {}, description: 'labels' }),
  mode: Type.Union([Type.Literal('a'), Type.Literal('b')], { default: 'a', description: 'mode' }),
});
