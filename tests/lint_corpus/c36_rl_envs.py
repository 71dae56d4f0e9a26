"""Vectorised RL environments (Stable-Baselines-style make_env)."""
import gymnasium as gym
import numpy as np
import torch


def make_env(env_id, rank, seed=0):
    def _init():
        env = gym.make(env_id)
        env.reset(seed=seed + rank)  # expect: RPT006
        env.action_space.seed(seed + rank)  # expect: RPT006
        return env

    return _init


def make_envs(env_id, n, seed):
    envs = gym.vector.SyncVectorEnv([make_env(env_id, i, seed) for i in range(n)])
    return envs


def rollout(policy, env, steps, seed):
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    total = 0.0
    for _ in range(steps):
        if rng.random() < 0.1:
            action = env.action_space.sample()
        else:
            action = policy(torch.as_tensor(obs)).argmax().item()
        obs, reward, terminated, truncated, _ = env.step(action)
        total += reward
        if terminated or truncated:
            obs, _ = env.reset()
    return total


def exploration_noise(shape):
    return np.random.default_rng(None).normal(size=shape)  # expect: RPT004
