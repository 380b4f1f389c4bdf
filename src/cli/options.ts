import { Option, type Command } from 'commander';
import type { FlagValues } from '../config/load.ts';
import { SETTINGS, type SettingGroup, type SettingKey } from '../config/settings.ts';

const ATTRIBUTE_TO_KEY = new Map<string, SettingKey>();

/**
 * Adds the options of the settings in `groups` to a command, from the settings table.
 * Defaults are not given to commander: the loader applies them after the environment.
 */
export function addSettingOptions(cmd: Command, groups: readonly SettingGroup[]): Command {
  for (const [key, spec] of Object.entries(SETTINGS) as Array<[SettingKey, (typeof SETTINGS)[SettingKey]]>) {
    if (!groups.includes(spec.group)) continue;
    const suffix = `[env ${spec.env}${'default' in spec ? `, default ${spec.default}` : ''}]`;
    if (spec.kind.type === 'bool') {
      const on = new Option(spec.flag, `${spec.description} ${suffix}`);
      const off = new Option(`--no-${spec.flag.slice(2)}`).hideHelp();
      cmd.addOption(on).addOption(off);
      ATTRIBUTE_TO_KEY.set(on.attributeName(), key);
    } else {
      const option = new Option(`${spec.flag} <value>`, `${spec.description} ${suffix}`);
      cmd.addOption(option);
      ATTRIBUTE_TO_KEY.set(option.attributeName(), key);
    }
  }
  return cmd;
}

/** The setting values given as flags to `cmd`, keyed by setting. */
export function flagValues(cmd: Command): FlagValues {
  const out: FlagValues = {};
  for (const [attribute, value] of Object.entries(cmd.opts())) {
    const key = ATTRIBUTE_TO_KEY.get(attribute);
    if (key !== undefined && (typeof value === 'string' || typeof value === 'boolean')) out[key] = value;
  }
  return out;
}
