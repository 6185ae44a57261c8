import type { Server } from 'node:http';
import { tookenExpress } from '@tooken/client';
import express from 'express';
import { type Serve, served } from './fixture.js';
import { middlewareScenarios } from './scenarios.js';

/** An Express 5 app: each route behind `tookenExpress`, answering what it found on `req.tooken`. */
const serve: Serve = async (routes) => {
  const app = express();
  for (const [path, options] of Object.entries(routes)) {
    app.get(path, tookenExpress(options), (req, res) => {
      res.json({ token: req.tooken });
    });
  }
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  return served(server);
};

middlewareScenarios('Express', serve);
