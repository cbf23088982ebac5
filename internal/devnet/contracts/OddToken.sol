// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title OddToken: an ERC-20 with broken metadata, for metadata tolerance.
/// @notice Like some early tokens (MKR, SAI), name() and symbol() return
/// bytes32 instead of string; decimals() always reverts; transfer returns
/// nothing (like USDT). Transfer events are standard, so the transfers
/// themselves must still be extracted. The whole supply goes to the
/// deployer at construction (Transfer from the zero address).
contract OddToken {
    bytes32 public constant name = "Odd Token";
    bytes32 public constant symbol = "ODD";
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor(uint256 supply) {
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    /// Always reverts: readers must tolerate a token without decimals.
    function decimals() external pure returns (uint8) {
        revert("OddToken: no decimals");
    }

    function transfer(address to, uint256 amount) external {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
    }
}
