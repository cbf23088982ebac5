// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Splitter: moves ether in internal transactions (trace frames).
/// @notice Every value transfer uses call{value:}. The constructor is
/// payable (contract creation with value) and deploys a helper Child
/// without value (a CREATE frame).
contract Splitter {
    /// Child used by tryForward.
    Child public immutable helper;

    event Spawned(address child, bytes32 salt);

    constructor() payable {
        helper = new Child();
    }

    /// Sends msg.value in equal parts to recipients; the first one also
    /// gets the remainder of the division.
    function split(address[] calldata recipients) external payable {
        uint256 n = recipients.length;
        require(n > 0, "Splitter: no recipients");
        uint256 part = msg.value / n;
        _send(recipients[0], msg.value - part * (n - 1));
        for (uint256 i = 1; i < n; i++) {
            _send(recipients[i], part);
        }
    }

    /// Sends msg.value on to to.
    function forward(address to) external payable {
        _send(to, msg.value);
    }

    /// Asks helper to forward msg.value to to; helper does, then reverts.
    /// The catch swallows the revert, so the transaction succeeds but the
    /// helper's frame and its transfer to to are undone; the value is
    /// returned to the caller instead (a second, successful frame).
    function tryForward(address to) external payable {
        try helper.forwardAndRevert{value: msg.value}(to) {} catch {
            _send(msg.sender, msg.value);
        }
    }

    /// CREATE2s a Child holding msg.value. Its address depends only on
    /// this contract, salt and Child's code.
    function spawn(bytes32 salt) external payable returns (address child) {
        child = address(new Child{salt: salt, value: msg.value}());
        emit Spawned(child, salt);
    }

    /// CREATE2s a Child holding msg.value and destroys it in the same
    /// transaction, sending its balance to to (EIP-6780: the account is
    /// really deleted only in its creating transaction).
    function spawnAndDestroy(bytes32 salt, address payable to) external payable returns (address child) {
        Child c = new Child{salt: salt, value: msg.value}();
        c.destroy(to);
        child = address(c);
        emit Spawned(child, salt);
    }

    function _send(address to, uint256 value) private {
        (bool ok, ) = to.call{value: value}("");
        require(ok, "Splitter: send failed");
    }
}

/// @title Child: a tiny contract holding ether.
contract Child {
    constructor() payable {}

    receive() external payable {}

    /// Forwards msg.value to to, then reverts (undoing the transfer).
    function forwardAndRevert(address to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        require(ok, "Child: send failed");
        revert("Child: reverted after forwarding");
    }

    /// Self-destructs, sending the whole balance to to. Outside the
    /// creating transaction (EIP-6780) only the balance moves: the code
    /// and storage stay.
    function destroy(address payable to) external {
        selfdestruct(to);
    }
}
